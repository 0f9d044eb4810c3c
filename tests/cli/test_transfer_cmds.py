"""`floodwall export`, `import` and `import-fail2ban` as an operator runs them (real files,
real SQLite; no daemon, so imports go to the ledger database)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest

from floodwall.bans.ledger import Ledger
from floodwall.cli import transfer_cmds
from floodwall.errors import FloodwallError
from floodwall.model import Ban
from floodwall.storage.database import Database
from tests.support.configs import floodwall_toml


def _node(root: Path) -> Path:
    """floodwall.toml of a node under `root` with one jail, `web` (its log exists)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "access.log").touch()
    return floodwall_toml(root, {"web": {"logpath": [root / "access.log"]}})


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="floodwall")
    transfer_cmds.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


def _ledger_rows(root: Path) -> list[tuple[object, ...]]:
    database = Database(root / "state" / "floodwall.sqlite3")
    try:
        return sorted((s.ban.key, s.ban.jail, s.ban.start, s.ban.until, s.ban.count,
                       s.ban.origin, s.ban.reason, s.ended) for s in database.bans_since(0.0))
    finally:
        database.close()


def test_json_export_imports_into_another_node_unchanged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _node(tmp_path / "a")
    now = time.time()
    database = Database(tmp_path / "a" / "state" / "floodwall.sqlite3")
    ledger = Ledger(database)
    ledger.add([(Ban("192.0.2.7", "web", now - 30, now + 600, 8, "local", "8 x 404"), ()),
                (Ban("2001:db8::/64", "manual", now - 20, None, 0, "manual", "by hand"), ()),
                (Ban("198.51.100.4", "web", now - 900, now - 300, 5, "local", "old"), ()),
                (Ban("198.51.100.5", "web", now - 60, now + 600, 5, "local", "lifted"), ())])
    ledger.expire(now)
    ledger.remove("198.51.100.5", now - 10, "unbanned by hand")
    database.close()

    assert _run("export", "--all", "--config", str(first)) == 0
    exported = capsys.readouterr().out
    assert len(exported.splitlines()) == 4
    assert json.loads(exported.splitlines()[0]).keys() == {
        "address", "jail", "start", "until", "failures", "origin", "reason", "ended"}
    dump = tmp_path / "bans.json"
    dump.write_text(exported)
    second = _node(tmp_path / "b")

    assert _run("import", str(dump), "--config", str(second)) == 0
    assert "2 active ban(s) enforced, 2 past ban(s) kept as history" in capsys.readouterr().out
    rows = _ledger_rows(tmp_path / "b")
    assert [row[:7] for row in rows] == [row[:7] for row in _ledger_rows(tmp_path / "a")]
    assert _run("import", str(dump), "--config", str(second)) == 0
    assert "0 active ban(s) enforced, 0 past ban(s) kept as history, 4 already known" in \
        capsys.readouterr().out
    assert _ledger_rows(tmp_path / "b") == rows

    assert _run("export", "--format", "list", "--config", str(second)) == 0
    assert capsys.readouterr().out == "192.0.2.7\n2001:db8::/64\n"


def test_list_import_bans_each_line_for_bantime_in_the_jail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _node(tmp_path)
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("# from the abuse desk\n203.0.113.9\n203.0.113.0/28 # range\n")
    before = time.time()

    assert _run("import", str(blocklist), "--format", "list", "--jail", "web", "--bantime", "2h",
                "--config", str(config)) == 0

    rows = _ledger_rows(tmp_path)
    assert [(r[0], r[1], r[5]) for r in rows] == [("203.0.113.0/28", "web", "import"),
                                                  ("203.0.113.9", "web", "import")]
    assert all(before <= float(r[2]) <= time.time() and r[3] == float(r[2]) + 7200
               for r in rows)
    assert "into the ledger database (enforced when floodwall starts)" in capsys.readouterr().out


def test_bad_input_is_refused_with_the_line_and_nothing_is_imported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _node(tmp_path)
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("203.0.113.9\n\nwww.example.com\n")

    with pytest.raises(FloodwallError) as caught:
        _run("import", str(blocklist), "--format", "list", "--config", str(config))
    assert str(caught.value).startswith(f"{blocklist}:3: 'www.example.com' is not an IP "
                                        "address or CIDR prefix; write an address such as")
    with pytest.raises(FloodwallError, match="no enabled jail named 'mail'"):
        _run("import", str(blocklist), "--format", "list", "--jail", "mail", "--config",
             str(config))
    assert _run("import", str(blocklist), "--jail", "web", "--config", str(config)) == 2
    assert _run("export", "--all", "--format", "list", "--config", str(config)) == 2
    assert "--format list holds the addresses banned now" in capsys.readouterr().err
    assert _ledger_rows(tmp_path) == []
