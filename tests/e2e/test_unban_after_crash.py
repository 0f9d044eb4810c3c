"""An unban sticks across `kill -9`: the daemon does not read the lines that made the ban
again at its next start (real `floodwall run`, real files, real SQLite; dry-run firewall)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.configs import floodwall_toml, scanner_jail
from tests.support.lines import access_line
from tests.support.waiting import wait_until

ATTACKER = "203.0.113.77"


def _floodwall(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "floodwall", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)


def _bans(config: Path) -> list[str]:
    result = _floodwall(config, "bans", "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["address"] for line in result.stdout.splitlines()]


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as output:
        daemon = subprocess.Popen([sys.executable, "-m", "floodwall", "run", "--config",
                                   str(config)], stdout=output, stderr=output)
    return daemon


def test_an_unban_sticks_across_kill_9(tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    access.touch()
    config = floodwall_toml(tmp_path, {"web": scanner_jail(access, maxretry=3)},
                            floodwall={"protect_ssh_sessions": False})
    log = tmp_path / "daemon.log"
    daemon = _start(config, log)
    try:
        wait_until(lambda: "floodwall running" in log.read_text(), 30, "the daemon to start")
        with open(access, "a") as writer:
            writer.write("".join(access_line(ATTACKER, f"/probe{n}") for n in range(3)))
        wait_until(lambda: _bans(config) == [ATTACKER], 20, "the ban", interval=0.2)
        assert _floodwall(config, "unban", ATTACKER).returncode == 0
        daemon.send_signal(signal.SIGKILL)  # at once: no clean stop saves anything
        daemon.wait(timeout=10)

        daemon = _start(config, log)
        wait_until(lambda: log.read_text().count("floodwall running") == 2, 30,
                   "the daemon to start again")  # its catch-up read is done by then
        assert _bans(config) == [], log.read_text()[-2000:]
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=15)
