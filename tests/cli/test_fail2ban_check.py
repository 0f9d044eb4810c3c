"""`floodwall check-config --fail2ban-config DIR` as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fail2ban_dir import copy_config, skip_reason

REASON = skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

JAIL_LOCAL = """
[sshd]
enabled = true
backend = systemd

[nginx-http-auth]
enabled = true
logpath = /var/log/nginx/error.log
action = nftables-allports
         sendmail-whois[dest="root"]
ignoreip = 127.0.0.1 intranet.example
"""


def test_check_config_shows_native_command_and_what_cannot_be_honoured(tmp_path: Path) -> None:
    directory = copy_config(tmp_path / "fail2ban", JAIL_LOCAL)
    result = subprocess.run(
        [sys.executable, "-m", "floodwall", "check-config", "--config",
         str(tmp_path / "none.toml"), "--fail2ban-config", str(directory)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    local = directory / "jail.local"
    assert "  [sshd] runs" in out
    assert ("journal: the journal (system only), matches: _SYSTEMD_UNIT=sshd.service + _COMM=sshd"
            in out)
    assert "  [nginx-http-auth] runs" in out
    assert "action nftables-allports: native: floodwall's nftables sets, all ports (tcp)" in out
    assert "action sendmail-whois: command" in out
    assert f"cannot honour: {local}:11: ignoreip 'intranet.example' is not an address" in out
