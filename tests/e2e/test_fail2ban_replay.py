"""`floodwall replay --fail2ban-config DIR --json LOG`: old logs through fail2ban's jails."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import fail2ban_dir
from tests.support.configs import floodwall_toml
from tests.support.lines import T0

REASON = fail2ban_dir.skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

JAIL_LOCAL = """
[sshd]
enabled = true
maxretry = 3
findtime = 10m
ignoreip = 203.0.113.0/24
"""


def _line(minute: int, address: str, user: str = "root") -> str:
    return (f"2024-01-10T04:{minute:02d}:00.000000+00:00 host sshd[{100 + minute}]: "
            f"Failed password for {user} from {address} port 50022 ssh2")


def test_replay_bans_like_the_native_replay_honouring_ignoreip_and_the_window(
        tmp_path: Path) -> None:
    directory = fail2ban_dir.copy_config(tmp_path / "fail2ban", JAIL_LOCAL)
    log = tmp_path / "auth.log"
    lines = [
        # 192.0.2.7: three failures within 10 minutes -> banned at the third.
        _line(0, "192.0.2.7"), _line(1, "192.0.2.7"), _line(2, "192.0.2.7", "admin"),
        # 203.0.113.5 is in the jail's ignoreip: never banned.
        *(_line(3 + n, "203.0.113.5") for n in range(5)),
        # 198.51.100.9: three failures, but never three within 10 minutes.
        _line(10, "198.51.100.9"), _line(21, "198.51.100.9"), _line(32, "198.51.100.9"),
        # A host name instead of an address is not resolved, so it never becomes a key.
        *(_line(40 + n, "attacker.example") for n in range(4)),
        ("2024-01-10T04:50:00.000000+00:00 host sshd[9]: Accepted password for root from "
        "192.0.2.8 port 50022 ssh2"),
    ]
    log.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "floodwall", "replay", "--config", str(tmp_path / "none.toml"),
         "--fail2ban-config", str(directory), "--json", "--no-progress", str(log)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    bans = [json.loads(line) for line in result.stdout.splitlines()]
    third = dt.datetime(2024, 1, 10, 4, 2, tzinfo=dt.UTC).timestamp()
    assert bans == [{"jail": "sshd", "address": "192.0.2.7", "time": third, "failures": 3}]


def test_a_line_that_would_take_hours_is_skipped_and_the_replay_goes_on(tmp_path: Path) -> None:
    directory = fail2ban_dir.copy_config(
        tmp_path / "fail2ban", fail2ban_dir.SLOW_JAIL.format(root=tmp_path),
        {"filter.d/slow.conf": fail2ban_dir.SLOW_FILTER})
    floodwall_toml(tmp_path, floodwall={"line_timeout": "0.1s"})
    log = tmp_path / "app.log"
    log.write_text("".join(fail2ban_dir.slow_line(address, T0 + second, evil)
                           for second, address, evil in ((1, "192.0.2.9", True),
                                                         (2, "192.0.2.9", False),
                                                         (3, "192.0.2.7", False),
                                                         (4, "192.0.2.7", False))))
    result = subprocess.run(
        [sys.executable, "-m", "floodwall", "replay", "--config", str(tmp_path / "floodwall.toml"),
         "--fail2ban-config", str(directory), "--json", "--no-progress", str(log)],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["address"] for line in result.stdout.splitlines()] == ["192.0.2.7"]
    assert f"{log} line 1 took more than 0.1s" in result.stderr
