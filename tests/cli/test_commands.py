"""Tests of the command line as an operator uses it (real processes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from floodwall.matching.fail2ban.prefilter import HYPERSCAN_INSTALLED
from tests.support.configs import floodwall_toml
from tests.support.hidden import env_without
from tests.support.lines import T0, access_line

ROOT = Path(__file__).resolve().parents[2]


def _floodwall(*args: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "floodwall", *args], capture_output=True,
                          text=True, timeout=120, env=env, check=False)


def test_check_config_accepts_the_example_and_lists_jails() -> None:
    result = _floodwall("check-config", "--config", str(ROOT / "examples" / "floodwall.toml"))
    assert result.returncode == 0, result.stderr
    assert "OK, 3 enabled jail(s)" in result.stdout
    assert "http-get-dos: filter=access maxretry=301 findtime=5m bantime=1h" in result.stdout


def test_check_config_says_when_hyperscan_is_missing(tmp_path: Path) -> None:
    example = str(ROOT / "examples" / "floodwall.toml")
    result = _floodwall("check-config", "--config", example,
                        env=env_without(tmp_path, "hyperscan"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("hyperscan not installed:") == 1
    assert "(slower, same results)" in result.stdout
    if HYPERSCAN_INSTALLED:
        assert "hyperscan" not in _floodwall("check-config", "--config", example).stdout


def test_check_config_error_names_file_line_key_and_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "floodwall.toml"
    config.write_text('[jails.web]\nlogpath = ["/var/www/*/logs/access.log"]\nfindtime = "soon"\n')
    result = _floodwall("check-config", "--config", str(config))
    assert result.returncode == 1 and result.stdout == ""
    assert f"{config}:3: key 'jails.web.findtime'" in result.stderr
    assert "Traceback" not in result.stderr


def test_control_commands_without_a_daemon_say_what_to_do(tmp_path: Path) -> None:
    config = floodwall_toml(tmp_path, {"web": {"logpath": "/x"}},
                            floodwall={"socket": tmp_path / "none.sock"})
    result = _floodwall("bans", "--config", str(config))
    assert result.returncode == 1
    assert "no control socket; is `floodwall run` running" in result.stderr


def test_replay_prints_a_table_of_bans(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("".join(  # replayed at the lines' own times
        access_line(f"198.51.100.{9 if n < 6 else 8}", "/wp-login.php", method="POST",
                    status=200, agent="x", when=T0 + n) for n in range(10)))
    result = _floodwall("replay", "--config", str(ROOT / "examples" / "floodwall.toml"), str(log))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [(row[2], row[3]) for row in rows] == [("wordpress-bruteforce", "198.51.100.9")]
    assert "10 lines from 1 file(s)" in result.stderr


def test_no_command_prints_help() -> None:
    result = _floodwall()
    assert result.returncode == 2 and "replay" in result.stderr
