"""Escalation, recidive and prefix aggregation through the daemon's ban path: failing requests
fed to it directly (real SQLite, recording firewall, manual clock)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.configs import Table, load
from tests.support.daemons import FedDaemon, fed_daemon
from tests.support.lines import T0, access_line

HOUR = 3600.0


def _log(jail: str) -> str:
    return f"/srv/log/{jail}.log"


@contextmanager
def _daemon(root: Path, *, mail: Table | None = None, start: float = T0,
            **sections: Table) -> Iterator[FedDaemon]:
    """A fed daemon with two jails, `web` and `mail`, each banning for an hour at the first
    request in its log (`mail` changes the mail jail); history is kept 30 days."""
    def jail(name: str, **options: Any) -> dict[str, Any]:
        return {"logpath": [_log(name)], "maxretry": 1, "bantime": "1h", **options}

    config = load(root, {"web": jail("web"), "mail": jail("mail", **(mail or {}))},
                  floodwall={"history": "30d"}, **sections)
    with fed_daemon(config, start=start) as fed:
        yield fed


def _offend(fed: FedDaemon, key: str, jail: str = "web") -> float | None:
    """One offence of `key` in `jail` (a ban); returns the ban's length (None = permanent)."""
    bans = fed.feed(_log(jail), access_line(key, "/x", when=fed.clock.now()))
    ban = next(b for b in bans if b.jail == jail and b.key == key)
    return None if ban.until is None else ban.until - ban.start


def _serve_out(fed: FedDaemon, seconds: float | None) -> None:
    assert seconds is not None
    fed.clock.advance(seconds + 1)
    fed.daemon.tick()


def test_bans_double_per_repeat_and_stop_at_maxtime(tmp_path: Path) -> None:
    with _daemon(tmp_path, defaults={"escalation": {"increment": True, "maxtime": "10h"}}) as fed:
        lengths = []
        for _ in range(6):
            length = _offend(fed, "203.0.113.5")
            lengths.append(length)
            _serve_out(fed, length)
        assert lengths == [HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 10 * HOUR, 10 * HOUR]
        steps = [s.ban.step for s in fed.daemon.database.bans_of("203.0.113.5")]
        assert steps == [0, 1, 2, 3, 4, 5]


def test_multipliers_factor_formula_and_rndtime(tmp_path: Path) -> None:
    with _daemon(tmp_path, defaults={"escalation": {
            "increment": True, "multipliers": "1 5 30", "factor": 2}}) as fed:
        lengths = []
        for _ in range(4):
            lengths.append(_offend(fed, "198.51.100.1"))
            _serve_out(fed, lengths[-1])
        assert lengths == [HOUR, 10 * HOUR, 60 * HOUR, 60 * HOUR]

    with _daemon(tmp_path / "b", defaults={"escalation": {
            "increment": True, "rndtime": "5m", "formula": "ban.Time + ban.Count * 600"}}) as fed:
        first = _offend(fed, "198.51.100.2")
        _serve_out(fed, first)
        second = _offend(fed, "198.51.100.2")
    assert first == HOUR  # a first offence is never escalated nor randomised
    assert second is not None and HOUR + 600 <= second <= HOUR + 600 + 300


@pytest.mark.parametrize("overall, expected", [(False, HOUR), (True, 2 * HOUR)])
def test_overalljails_counts_bans_of_other_jails(tmp_path: Path, overall: bool,
                                                 expected: float) -> None:
    with _daemon(tmp_path, defaults={"escalation": {"increment": True,
                                                    "overalljails": overall}}) as fed:
        _serve_out(fed, _offend(fed, "192.0.2.77", jail="mail"))
        assert _offend(fed, "192.0.2.77", jail="web") == expected


def test_history_outside_the_window_does_not_escalate(tmp_path: Path) -> None:
    with _daemon(tmp_path, defaults={"escalation": {"increment": True}}) as fed:
        _serve_out(fed, _offend(fed, "192.0.2.78"))
        fed.clock.advance(31 * 86400)
        fed.daemon.tick()  # also forgets ended bans older than history
        assert fed.daemon.database.bans_of("192.0.2.78") == []
        assert _offend(fed, "192.0.2.78") == HOUR


def test_recidive_bans_every_port_after_repeated_bans(tmp_path: Path) -> None:
    with _daemon(tmp_path, recidive={"maxretry": 3, "findtime": "1d", "bantime": "1w"}) as fed:
        for jail in ("web", "mail", "web"):
            assert "recidive" not in {b.jail for b in fed.daemon.bans.ledger.active()}
            _serve_out(fed, _offend(fed, "203.0.113.66", jail=jail))
        recidive = [b for b in fed.daemon.bans.ledger.active() if b.jail == "recidive"]
        assert [(b.key, b.until - b.start) for b in recidive if b.until] == [
            ("203.0.113.66", 7 * 86400)]
        assert fed.banned("recidive") == ["203.0.113.66"]
        assert "3 bans in 1d" in recidive[0].reason


def test_prefix_aggregation_replaces_member_bans(tmp_path: Path) -> None:
    with _daemon(tmp_path, aggregate={"count": 3, "within": "1h"}) as fed:
        for host in (1, 2):
            _offend(fed, f"203.0.113.{host}")
        assert fed.banned("web") == ["203.0.113.1", "203.0.113.2"]
        _offend(fed, "203.0.113.3")
        assert fed.banned("web") == ["203.0.113.0/24"]
        assert [b.key for b in fed.daemon.bans.ledger.active()] == ["203.0.113.0/24"]
        assert fed.daemon.bans.ledger.is_banned("web", "203.0.113.200", fed.clock.now())
        ended = {s.ban.key: s.end_reason for s in fed.daemon.database.recent_bans() if s.ended}
        assert ended == {f"203.0.113.{h}": "aggregated into 203.0.113.0/24" for h in (1, 2, 3)}
        # Other jails and other prefixes are separate.
        _offend(fed, "198.51.100.9")
        assert "198.51.100.9" in fed.banned("web")


def test_prefix_aggregation_counts_the_bans_restored_at_start(tmp_path: Path) -> None:
    aggregate = {"count": 3, "within": "1h"}
    with _daemon(tmp_path, aggregate=aggregate) as fed:
        for host in (1, 2):
            _offend(fed, f"203.0.113.{host}")
    with _daemon(tmp_path, aggregate=aggregate, start=T0 + 60) as again:  # a restart
        _offend(again, "203.0.113.3")
        assert again.banned("web") == ["203.0.113.0/24"]


def test_ipv6_sources_counted_per_64(tmp_path: Path) -> None:
    with _daemon(tmp_path, mail={"ipv6_key_prefix": 64, "maxretry": 3}) as fed:
        bans = []
        for host in (1, 2, 3):  # three addresses of one /64: one key
            bans += fed.feed(_log("mail"), access_line(f"2001:db8:1:2::{host}", "/x",
                                                       when=fed.clock.now()), first_line=host)
        assert [b.key for b in bans] == ["2001:db8:1:2::/64"]
