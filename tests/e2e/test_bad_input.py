"""Bad input never crashes the daemon nor bans the wrong address.

`floodwall run` (dry-run backend) runs as user `nobody` so that a log file with mode 000 is
really unreadable to it; the test feeds it non-UTF-8 bytes, a 1 MB line, truncated lines,
addresses injected into paths, user agents, referers, user names and ssh user names, a log
deleted and recreated, and checks the bans and the warnings.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.configs import floodwall_toml, scanner_jail
from tests.support.lines import access_line, sshd_failed_line
from tests.support.waiting import wait_until

VICTIM = "192.0.2.99"
INJECTOR, SCANNER, GUESSER, LATE = "198.51.100.7", "203.0.113.40", "203.0.113.41", "203.0.113.42"

if os.geteuid() != 0 or shutil.which("setpriv") is None:
    pytest.skip("LOUD SKIP: needs root and setpriv to run the daemon as nobody",
                allow_module_level=True)


def _access(client: str, path: str, *, user: str = "-", agent: str = "curl/8",
            referer: str = "-") -> bytes:
    # Stamped now: lines older than findtime would be released by the daemon's next tick
    # whenever they came in two batches (the test then failed at random).
    return access_line(client, path, user=user, agent=agent, referer=referer).encode()


@pytest.fixture()
def root() -> Iterator[Path]:
    # pytest's tmp_path lives in a 0700 directory that `nobody` cannot enter.
    path = Path(tempfile.mkdtemp(prefix="floodwall-bad-input-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def test_bad_input_keeps_the_daemon_up_and_bans_only_true_clients(root: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    for site in ("a", "b", "locked"):
        (root / "www" / site / "logs").mkdir(parents=True)
        (root / "www" / site / "logs" / "access.log").touch()
    (root / "auth.log").touch()
    (root / "state").mkdir()
    (root / "run").mkdir()
    locked = root / "www" / "locked" / "logs" / "access.log"
    locked.write_bytes(_access(VICTIM, "/x") * 10)
    for path in [root, *root.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(locked, 0o000)
    os.chown(locked, 0, 0)
    floodwall_toml(root, {
        "web": scanner_jail(root / "www" / "*" / "logs" / "access.log", maxretry=5,
                            findtime=None, bantime=None),
        "sshd": {"logpath": [root / "auth.log"], "filter": "sshd", "maxretry": 5}},
        floodwall={"socket": root / "run" / "control.sock"})
    log = root / "daemon.log"
    with open(log, "wb") as output:
        daemon = subprocess.Popen(
            ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
             sys.executable, "-m", "floodwall", "run", "--config", str(root / "floodwall.toml")],
            stdout=output, stderr=output)
    try:
        wait_until(lambda: "floodwall running" in log.read_text(), 20, "the daemon to start")
        a_log = root / "www" / "a" / "logs" / "access.log"
        b_log = root / "www" / "b" / "logs" / "access.log"
        _append(a_log, b"\xff\xfe\x00garbage \xc3\x28 not utf-8\n")
        _append(a_log, b"A" * 1_048_576 + b"\n")
        _append(a_log, _access(SCANNER, "/wp-admin/")[:40] + b"\n")  # truncated mid-line
        _append(a_log, b'203.0.113.77 - - [02/Mar/2026:08:00:00 +0000] "GET /x HTTP/1.1\n')
        for n in range(4):  # the injector stays at 4 of 5: only the victim would cross
            _append(b_log, _access(INJECTOR, f"/?ip={VICTIM}&n={n}", user=VICTIM,
                                   agent=f'" {VICTIM} - - [02/Mar/2026', referer=VICTIM))
        for n in range(5):
            _append(a_log if n % 2 else b_log, _access(SCANNER, f"/.env{n}"))
        with open(root / "auth.log", "a") as auth:
            for n in range(5):
                auth.write(sshd_failed_line(GUESSER, VICTIM, pid=770 + n, port=40 + n,
                                            invalid=True))
        _append(locked, b"")  # an event on the unreadable file

        def bans() -> set[str]:
            result = subprocess.run(
                [sys.executable, "-m", "floodwall", "bans", "--json", "--config",
                 str(root / "floodwall.toml")], capture_output=True, text=True, timeout=30,
                check=False)
            assert result.returncode == 0, result.stderr + log.read_text()[-3000:]
            return {json.loads(line)["address"] for line in result.stdout.splitlines()}

        wait_until(lambda: bans() == {SCANNER, GUESSER}, 10, "the scanner and guesser bans",
                   interval=0.2)

        # Deleted and recreated: the new file is read from its start.
        b_log.unlink()
        b_log.write_bytes(b"")
        os.chown(b_log, nobody.pw_uid, nobody.pw_gid)
        _append(b_log, _access(LATE, "/phpmyadmin/") * 5)
        wait_until(lambda: LATE in bans(), 10, "the ban from the recreated file", interval=0.2)
        _append(locked, _access(VICTIM, "/y") * 3)  # more events: still one warning

        assert daemon.poll() is None, log.read_text()[-3000:]
        assert bans() == {SCANNER, GUESSER, LATE}
        text = log.read_text()
        warnings = [line for line in text.splitlines()
                    if "WARNING" in line and str(locked) in line]
        assert len(warnings) == 1, warnings
        assert "cannot read" in warnings[0]
        assert sum("max_line_bytes" in line for line in text.splitlines()) == 1
        assert "Traceback" not in text
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0, log.read_text()[-3000:]
