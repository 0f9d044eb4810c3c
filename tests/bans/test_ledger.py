"""Tests of the ban ledger over a real SQLite database."""

from __future__ import annotations

from pathlib import Path

from floodwall.bans.ledger import Ledger
from floodwall.model import Ban, Failure
from floodwall.storage.database import Database


def _ban(key: str = "192.0.2.7", until: float | None = 1100.0, jail: str = "web") -> Ban:
    return Ban(key, jail, 1000.0, until, 3, "local", "3 failures")


def test_bans_survive_reopening_with_their_evidence(tmp_path: Path) -> None:
    db_path = tmp_path / "state.sqlite3"
    ledger = Ledger(Database(db_path))
    evidence = [Failure("web", "192.0.2.7", 990.0 + n, "/var/log/a.log", 10 + n, f"line {n}")
                for n in range(3)]
    changes = ledger.add([(_ban(), evidence), (_ban("2001:db8::1", None), ())])
    assert [c.action for c in changes] == ["add", "add"]
    ledger.database.close()

    reopened = Ledger(Database(db_path))
    assert sorted(b.key for b in reopened.active()) == ["192.0.2.7", "2001:db8::1"]
    stored = reopened.database.bans_of("192.0.2.7")[0]
    assert [(e.path, e.lineno, e.line) for e in reopened.database.evidence(stored.id)] == [
        ("/var/log/a.log", 10, "line 0"), ("/var/log/a.log", 11, "line 1"),
        ("/var/log/a.log", 12, "line 2")]


def test_a_repeated_ban_extends_but_never_shortens(tmp_path: Path) -> None:
    ledger = Ledger(Database(tmp_path / "s.db"))
    ledger.add([(_ban(until=1100.0), ())])
    assert ledger.add([(_ban(until=1050.0), ())]) == []
    extended = ledger.add([(_ban(until=1500.0), ())])
    assert [c.ban.until for c in extended] == [1500.0]
    assert ledger.add([(_ban(until=None), ())])[0].ban.until is None
    assert ledger.add([(_ban(until=9999.0), ())]) == []  # permanent stays permanent
    assert len(ledger.database.bans_of("192.0.2.7")) == 1


def test_expire_and_unban_are_recorded(tmp_path: Path) -> None:
    ledger = Ledger(Database(tmp_path / "s.db"))
    ledger.add([(_ban("192.0.2.1", 1100.0), ()), (_ban("192.0.2.2", None), ()),
                (_ban("192.0.2.3", 1200.0, jail="other"), ())])
    assert ledger.expire(1099.0) == []
    assert [c.ban.key for c in ledger.expire(1100.0)] == ["192.0.2.1"]
    removed = ledger.remove("192.0.2.2", 1150.0, "unbanned by hand")
    assert [(c.action, c.ban.key) for c in removed] == [("remove", "192.0.2.2")]
    assert [b.key for b in ledger.active()] == ["192.0.2.3"]
    history = {s.ban.key: s for s in ledger.database.recent_bans()}
    assert history["192.0.2.1"].end_reason == "expired"
    assert (history["192.0.2.2"].ended, history["192.0.2.2"].end_reason) == (
        1150.0, "unbanned by hand")
    assert history["192.0.2.3"].ended is None


def test_is_banned_respects_time_and_jail(tmp_path: Path) -> None:
    ledger = Ledger(Database(tmp_path / "s.db"))
    ledger.add([(_ban(), ())])
    assert ledger.is_banned("web", "192.0.2.7", 1099.0)
    assert not ledger.is_banned("web", "192.0.2.7", 1100.0)
    assert not ledger.is_banned("other", "192.0.2.7", 1050.0)


def test_a_prefix_ban_covers_its_addresses_also_after_reopening(tmp_path: Path) -> None:
    ledger = Ledger(Database(tmp_path / "s.db"))
    ledger.add([(_ban("203.0.113.0/24", 1100.0), ()), (_ban("2001:db8:1::/64", None), ())])
    reopened = Ledger(ledger.database)
    for current in (ledger, reopened):
        assert current.is_banned("web", "203.0.113.77", 1050.0)
        assert current.is_banned("web", "2001:db8:1::9", 99999.0)
        assert not current.is_banned("web", "203.0.114.1", 1050.0)
        assert not current.is_banned("other", "203.0.113.77", 1050.0)
        assert not current.is_banned("web", "203.0.113.77", 1100.0)
    reopened.remove("203.0.113.0/24", 1060.0, "unbanned by hand")
    assert not reopened.is_banned("web", "203.0.113.77", 1070.0)


def test_bans_grouped_by_a_key_function_follow_adds_ends_and_reopening(tmp_path: Path) -> None:
    db_path = tmp_path / "s.db"
    ledger = Ledger(Database(db_path))

    def slash24(key: str) -> str | None:
        return None if "/" in key else key.rsplit(".", 1)[0]

    ledger.add([(_ban("192.0.2.1"), ()), (_ban("192.0.2.2"), ()),
                (_ban("192.0.2.3", jail="mail"), ()), (_ban("198.51.100.1"), ())])
    ledger.group_by(slash24)  # existing bans are indexed
    assert sorted(b.key for b in ledger.grouped_with(_ban("192.0.2.99"))) == [
        "192.0.2.1", "192.0.2.2"]
    ledger.add([(_ban("192.0.2.4"), ())])
    ledger.remove("192.0.2.1", 1010.0, "by hand")
    assert sorted(b.key for b in ledger.grouped_with(_ban("192.0.2.99"))) == [
        "192.0.2.2", "192.0.2.4"]
    assert [b.key for b in ledger.grouped_with(_ban("192.0.2.99", jail="mail"))] == ["192.0.2.3"]
    ledger.expire(2000.0)
    assert ledger.grouped_with(_ban("192.0.2.99")) == []
    assert ledger.grouped_with(_ban("198.51.100.99")) == []
    ledger.add([(_ban("192.0.2.9", until=5000.0), ())])
    ledger.database.close()
    reopened = Ledger(Database(db_path))
    reopened.group_by(slash24)
    assert [b.key for b in reopened.grouped_with(_ban("192.0.2.99"))] == ["192.0.2.9"]
    reopened.group_by(None)
    assert reopened.grouped_with(_ban("192.0.2.99")) == []


def test_an_address_whose_own_ban_just_ended_is_still_held_by_its_prefix(tmp_path: Path) -> None:
    ledger = Ledger(Database(tmp_path / "s.db"))
    ledger.add([(_ban("192.0.2.7", until=1100.0), ()), (_ban("192.0.2.0/24", until=5000.0), ())])
    assert ledger.is_banned("web", "192.0.2.7", 1200.0)  # its own ban is over, not yet expired
    assert not ledger.is_banned("mail", "192.0.2.7", 1200.0)
    assert not ledger.is_banned("web", "192.0.2.7", 5000.0)


def test_expiry_ends_the_due_bans_soonest_first_and_never_an_extended_one_early(
        tmp_path: Path) -> None:
    db_path = tmp_path / "s.db"
    ledger = Ledger(Database(db_path))
    ledger.add([(_ban("192.0.2.1", 1300.0), ()), (_ban("192.0.2.2", 1100.0), ()),
                (_ban("192.0.2.3", None), ()), (_ban("192.0.2.4", 1200.0), ())])
    ledger.add([(_ban("192.0.2.4", 1500.0), ())])  # extended past its first end
    assert ledger.expire(1099.0) == []
    assert [c.ban.key for c in ledger.expire(1300.0)] == ["192.0.2.2", "192.0.2.1"]
    ledger.database.close()

    reopened = Ledger(Database(db_path))  # the ends are known again after a restart
    assert reopened.expire(1499.0) == []
    assert [(c.action, c.ban.key) for c in reopened.expire(1500.0)] == [("remove", "192.0.2.4")]
    assert [b.key for b in reopened.active()] == ["192.0.2.3"]  # permanent
    readded = reopened.add([(_ban("192.0.2.4", 1600.0), ())])  # banned again: a new end
    assert [c.ban.until for c in readded] == [1600.0]
    assert [c.ban.key for c in reopened.expire(1600.0)] == ["192.0.2.4"]
