"""Bans in and out: JSON lines, address lists, and taking imported bans in exactly once
(real SQLite database, real ledger)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from floodwall.bans.ledger import Ledger
from floodwall.bans.transfer import (
    Entry,
    entry_record,
    exported,
    parse_json,
    parse_list,
    render_json,
    render_list,
    stored_record,
    take_in,
)
from floodwall.errors import ImportFileError
from floodwall.model import Ban
from floodwall.storage.database import Database

NOW = 1_700_000_000.0


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "state" / "floodwall.sqlite3")
    yield db
    db.close()


def _never(key: str, jail: str) -> bool:
    return False


def test_list_lines_become_bans_from_now_with_keys_normalised() -> None:
    text = ("# blocklist\n192.0.2.7\n\n  2001:DB8::1  # scanner\n::ffff:198.51.100.9\n"
            "203.0.113.77/24\n198.51.100.5/32\n")
    entries = parse_list(text, "bl.txt", "web", 600, NOW)
    assert [e.ban.key for e in entries] == ["192.0.2.7", "2001:db8::1", "198.51.100.9",
                                            "203.0.113.0/24", "198.51.100.5"]
    first = entries[0].ban
    assert (first.jail, first.start, first.until, first.origin) == ("web", NOW, NOW + 600,
                                                                     "import")
    assert first.reason == "imported from bl.txt:2"
    assert parse_list("192.0.2.7\n", "bl.txt", "web", None, NOW)[0].ban.until is None


@pytest.mark.parametrize(("text", "message"), [
    ("192.0.2.7\nexample.com\n", "bl.txt:2: 'example.com' is not an IP address or CIDR prefix"),
    ("\n\n192.0.2.300\n", "bl.txt:3: '192.0.2.300' is not an IP address or CIDR prefix"),
    ("10.0.0.0/33\n", "bl.txt:1: '10.0.0.0/33' is not an IP address or CIDR prefix"),
])
def test_bad_list_lines_are_named_by_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        parse_list(text, "bl.txt", "web", 600, NOW)
    assert str(caught.value).startswith(message + "; write ")


def test_json_lines_round_trip_and_bad_objects_are_located() -> None:
    bans = [Ban("192.0.2.7", "web", NOW, NOW + 60, 5, "local", "5 failures"),
            Ban("2001:db8::/64", "ssh", NOW, None, 0, "manual", "by hand")]
    text = render_json([entry_record(bans[0], ended=NOW + 30), entry_record(bans[1])])
    assert text.count("\n") == 2
    entries = parse_json(text, "bans.json")
    assert entries == [Entry(bans[0], NOW + 30), Entry(bans[1])]
    assert parse_json(f"[{text.splitlines()[1]}]", "bans.json") == [Entry(bans[1])]

    bad = text + '{"address": "nope", "jail": "web", "start": 1}\n'
    with pytest.raises(ImportFileError, match=r"^bans.json:3: 'nope' is not an IP address"):
        parse_json(bad, "bans.json")
    with pytest.raises(ImportFileError, match=r"^bans.json:1: 'start' must be a unix time"):
        parse_json('{"address": "192.0.2.1", "jail": "web", "start": "yesterday"}', "bans.json")
    with pytest.raises(ImportFileError, match=r"^bans.json:2: not a JSON object"):
        parse_json(text.splitlines()[0] + "\n{oops\n", "bans.json")


def test_list_export_holds_each_key_once_sorted() -> None:
    bans = [Ban(key, jail, NOW, None) for key, jail in (
        ("198.51.100.9", "web"), ("2001:db8::1", "web"), ("192.0.2.10", "web"),
        ("192.0.2.9", "ssh"), ("198.51.100.9", "ssh"), ("192.0.2.0/24", "manual"))]
    assert render_list(bans) == ("192.0.2.0/24\n192.0.2.9\n192.0.2.10\n198.51.100.9\n"
                                 "2001:db8::1\n")


def test_take_in_stores_history_enforces_current_bans_and_is_idempotent(
        database: Database) -> None:
    ledger = Ledger(database)
    entries = [
        Entry(Ban("192.0.2.1", "web", NOW - 7200, NOW - 3600, 3, "fail2ban", "old")),
        Entry(Ban("192.0.2.2", "web", NOW - 60, NOW + 3600, 4, "fail2ban", "current")),
        Entry(Ban("192.0.2.3", "web", NOW - 60, None, 1, "fail2ban", "permanent")),
        Entry(Ban("192.0.2.4", "web", NOW - 60, NOW + 3600, 1, "fail2ban", "lifted"),
              ended=NOW - 30),
        Entry(Ban("192.0.2.250", "web", NOW - 60, NOW + 3600, 1, "fail2ban", "friend")),
    ]

    def allowed(key: str, jail: str) -> bool:
        return key == "192.0.2.250"

    intake = take_in(database, entries, NOW, ledger.add, allowed)

    assert (intake.enforced, intake.history, intake.known) == (2, 2, 0)
    assert intake.allowlisted == ("192.0.2.250",)
    assert sorted(b.key for b in ledger.active()) == ["192.0.2.2", "192.0.2.3"]
    old = database.bans_of("192.0.2.1")
    assert [(s.ban.reason, s.ended) for s in old] == [("old", NOW - 3600)]
    assert [s.ended for s in database.bans_of("192.0.2.4")] == [NOW - 30]

    again = take_in(database, entries, NOW + 5, Ledger(database).add, allowed)

    assert (again.enforced, again.history, again.known) == (0, 0, 4)
    assert len(database.bans_since(0.0)) == 4


def test_an_import_only_ever_extends_a_ban_in_force(database: Database) -> None:
    ledger = Ledger(database)
    ledger.add([(Ban("192.0.2.2", "web", NOW - 10, NOW + 7200, 9, "local", "ours"), ())])
    shorter = Entry(Ban("192.0.2.2", "web", NOW - 60, NOW + 60, 1, "fail2ban", "theirs"))

    intake = take_in(database, [shorter], NOW, ledger.add, _never)

    assert (intake.enforced, intake.known) == (0, 1)
    assert [b.until for b in ledger.active()] == [NOW + 7200]


def test_export_selects_bans_in_force_or_everything(database: Database) -> None:
    ledger = Ledger(database)
    ledger.add([(Ban("192.0.2.1", "web", NOW - 100, NOW - 1), ()),
                (Ban("192.0.2.2", "web", NOW - 100, NOW + 100), ()),
                (Ban("192.0.2.3", "web", NOW - 100, None), ())])
    ledger.remove("192.0.2.3", NOW - 50, "unbanned by hand")

    assert [s.ban.key for s in exported(database, False, NOW)] == ["192.0.2.2"]
    everything = exported(database, True, NOW)
    assert [s.ban.key for s in everything] == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert stored_record(everything[2])["ended"] == NOW - 50
