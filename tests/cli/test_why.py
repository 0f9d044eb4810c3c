"""`floodwall why`: every ban of an address, its rule, escalation step and evidence lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from floodwall.bans.ledger import Ledger
from floodwall.model import Ban, Failure
from floodwall.storage.database import Database
from tests.support.configs import floodwall_toml


def _why(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "floodwall", "why", *args, "--config",
                           str(config)], capture_output=True, text=True, timeout=60, check=False)


def test_why_shows_each_ban_with_rule_step_and_lines(tmp_path: Path) -> None:
    config = floodwall_toml(tmp_path, {"web": {"logpath": "/x"}})
    ledger = Ledger(Database(tmp_path / "state" / "floodwall.sqlite3"))
    lines = [Failure("web", "203.0.113.9", 1000.0 + n, "/var/www/a/logs/access.log", 40 + n,
                     f'203.0.113.9 - - "GET /wp-admin/{n}" 404') for n in range(3)]
    ledger.add([(Ban("203.0.113.9", "web", 1003.0, 4603.0, 3, "local",
                     "3 failures (GET answered 404) within 10m, limit 3"), lines)])
    ledger.expire(5000.0)
    ledger.add([(Ban("203.0.113.9", "web", 9000.0, 16200.0, 3, "local", "again", step=1),
                 lines[:1])])
    ledger.database.close()

    result = _why(config, "203.0.113.9")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ban 1 of 2: 203.0.113.9 in jail web" in out and "for 1h" in out
    assert "(expired)" in out and "ban 2 of 2" in out and "active" in out
    assert "rule:  3 failures (GET answered 404) within 10m, limit 3" in out
    assert "step:  first offence" in out and "step:  1 earlier ban(s)" in out
    assert "/var/www/a/logs/access.log:42: 203.0.113.9" in out

    as_json = [json.loads(line) for line in _why(config, "203.0.113.9", "--json").stdout.split("\n")
               if line]
    assert [(b["step"], len(b["evidence"])) for b in as_json] == [(0, 3), (1, 1)]
    assert as_json[0]["evidence"][2]["lineno"] == 42

    missing = _why(config, "192.0.2.1")
    assert missing.returncode == 1 and "never banned" in missing.stdout


def test_escape_sequences_from_logs_never_reach_the_terminal(tmp_path: Path) -> None:
    config = floodwall_toml(tmp_path, {"web": {"logpath": "/x"}})
    ledger = Ledger(Database(tmp_path / "state" / "floodwall.sqlite3"))
    evil = '203.0.113.9 - - "GET /\x1b]0;owned\x07\x1b[2J\u202etxt.exe" 404'
    ledger.add([(Ban("203.0.113.9", "web", 1003.0, None, 1, "local", "reason \x1b[31mred"),
                 [Failure("web", "203.0.113.9", 1000.0, "/var/log/a\x1b[H.log", 1, evil)])])
    ledger.database.close()

    out = _why(config, "203.0.113.9").stdout
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "GET /\\x1b]0;owned\\x07\\x1b[2J\\u202etxt.exe" in out
    assert "rule:  reason \\x1b[31mred" in out and "/var/log/a\\x1b[H.log:1:" in out
    as_json = json.loads(_why(config, "203.0.113.9", "--json").stdout)
    assert as_json["evidence"][0]["line"] == evil  # JSON carries the text as it was
