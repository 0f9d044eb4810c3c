"""Escalation, recidive and prefix aggregation through the daemon's ban path (real SQLite,
recording firewall, manual clock)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from floodwall.clock import ManualClock
from floodwall.config.loader import parse_config
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.model import Decision, Failure
from floodwall.server.daemon import Daemon

HOUR = 3600.0


def _daemon(tmp_path: Path, extra: str, jails: str = "") -> tuple[Daemon, ManualClock,
                                                                    RecordingEnforcer]:
    text = (f'[floodwall]\nstate_dir = "{tmp_path}/state"\nsocket = "{tmp_path}/c.sock"\n'
            f'backend = "dry-run"\nhistory = "30d"\n{extra}\n'
            f'[jails.web]\nlogpath = "{tmp_path}/web.log"\nbantime = "1h"\n'
            f'[jails.mail]\nlogpath = "{tmp_path}/mail.log"\nbantime = "1h"\n{jails}')
    clock = ManualClock(1_800_000_000.0)
    enforcer = RecordingEnforcer()
    daemon = Daemon(parse_config(text, str(tmp_path / "floodwall.toml")), clock=clock,
                    enforcer=enforcer)
    daemon.bans.policy.rng = random.Random(7)
    daemon.bans.rebuild_firewall()
    return daemon, clock, enforcer


def _offend(daemon: Daemon, clock: ManualClock, key: str, jail: str = "web") -> float | None:
    """One decision against `key`; returns the resulting ban length (None = permanent)."""
    now = clock.now()
    failure = Failure(jail, key, now, f"/{jail}.log", 1, "line")
    bans = daemon.bans.decide([Decision(jail, key, now, "5 failures", (failure,), 5)], now)
    ban = next(b for b in bans if b.jail == jail and b.key == key)
    return None if ban.until is None else ban.until - ban.start


def _serve_out(daemon: Daemon, clock: ManualClock, seconds: float | None) -> None:
    assert seconds is not None
    clock.advance(seconds + 1)
    daemon.tick()


def test_bans_double_per_repeat_and_stop_at_maxtime(tmp_path: Path) -> None:
    daemon, clock, _ = _daemon(
        tmp_path, "[defaults]\nescalation = { increment = true, maxtime = \"10h\" }\n")
    lengths = []
    for _ in range(6):
        length = _offend(daemon, clock, "203.0.113.5")
        lengths.append(length)
        _serve_out(daemon, clock, length)
    assert lengths == [HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 10 * HOUR, 10 * HOUR]
    steps = [s.ban.step for s in daemon.database.bans_of("203.0.113.5")]
    assert steps == [0, 1, 2, 3, 4, 5]


def test_multipliers_factor_formula_and_rndtime(tmp_path: Path) -> None:
    daemon, clock, _ = _daemon(
        tmp_path, "[defaults]\nescalation = { increment = true, multipliers = \"1 5 30\", "
                  "factor = 2 }\n")
    lengths = []
    for _ in range(4):
        lengths.append(_offend(daemon, clock, "198.51.100.1"))
        _serve_out(daemon, clock, lengths[-1])
    assert lengths == [HOUR, 10 * HOUR, 60 * HOUR, 60 * HOUR]

    daemon, clock, _ = _daemon(
        tmp_path / "b", "[defaults]\nescalation = { increment = true, rndtime = \"5m\", "
                        "formula = \"ban.Time + ban.Count * 600\" }\n")
    first = _offend(daemon, clock, "198.51.100.2")
    _serve_out(daemon, clock, first)
    second = _offend(daemon, clock, "198.51.100.2")
    assert first == HOUR  # a first offence is never escalated nor randomised
    assert second is not None and HOUR + 600 <= second <= HOUR + 600 + 300


@pytest.mark.parametrize("overall, expected", [(False, HOUR), (True, 2 * HOUR)])
def test_overalljails_counts_bans_of_other_jails(tmp_path: Path, overall: bool,
                                                 expected: float) -> None:
    flag = "true" if overall else "false"
    daemon, clock, _ = _daemon(
        tmp_path, f"[defaults]\nescalation = {{ increment = true, overalljails = {flag} }}\n")
    _serve_out(daemon, clock, _offend(daemon, clock, "192.0.2.77", jail="mail"))
    assert _offend(daemon, clock, "192.0.2.77", jail="web") == expected


def test_history_outside_the_window_does_not_escalate(tmp_path: Path) -> None:
    daemon, clock, _ = _daemon(
        tmp_path, "[defaults]\nescalation = { increment = true }\n")
    _serve_out(daemon, clock, _offend(daemon, clock, "192.0.2.78"))
    clock.advance(31 * 86400)
    daemon.tick()  # also forgets ended bans older than history
    assert daemon.database.bans_of("192.0.2.78") == []
    assert _offend(daemon, clock, "192.0.2.78") == HOUR


def test_recidive_bans_every_port_after_repeated_bans(tmp_path: Path) -> None:
    daemon, clock, enforcer = _daemon(
        tmp_path, "[recidive]\nmaxretry = 3\nfindtime = \"1d\"\nbantime = \"1w\"\n")
    for jail in ("web", "mail", "web"):
        assert "recidive" not in {b.jail for b in daemon.bans.ledger.active()}
        _serve_out(daemon, clock, _offend(daemon, clock, "203.0.113.66", jail=jail))
    recidive = [b for b in daemon.bans.ledger.active() if b.jail == "recidive"]
    assert [(b.key, b.until - b.start) for b in recidive if b.until] == [
        ("203.0.113.66", 7 * 86400)]
    assert enforcer.elements()["recidive"] == ["203.0.113.66"]
    assert "3 bans in 1d" in recidive[0].reason


def test_prefix_aggregation_replaces_member_bans(tmp_path: Path) -> None:
    daemon, clock, enforcer = _daemon(
        tmp_path, "[aggregate]\ncount = 3\nwithin = \"1h\"\n")
    for host in (1, 2):
        _offend(daemon, clock, f"203.0.113.{host}")
    assert enforcer.elements()["web"] == ["203.0.113.1", "203.0.113.2"]
    _offend(daemon, clock, "203.0.113.3")
    assert enforcer.elements()["web"] == ["203.0.113.0/24"]
    assert [b.key for b in daemon.bans.ledger.active()] == ["203.0.113.0/24"]
    assert daemon.bans.ledger.is_banned("web", "203.0.113.200", clock.now())
    ended = {s.ban.key: s.end_reason for s in daemon.database.recent_bans() if s.ended}
    assert ended == {f"203.0.113.{h}": "aggregated into 203.0.113.0/24" for h in (1, 2, 3)}
    # Other jails and other prefixes are separate.
    _offend(daemon, clock, "198.51.100.9")
    assert "198.51.100.9" in enforcer.elements()["web"]


def test_prefix_aggregation_counts_the_bans_restored_at_start(tmp_path: Path) -> None:
    extra = "[aggregate]\ncount = 3\nwithin = \"1h\"\n"
    daemon, clock, _ = _daemon(tmp_path, extra)
    for host in (1, 2):
        _offend(daemon, clock, f"203.0.113.{host}")
    daemon.database.close()
    again, _, enforcer = _daemon(tmp_path, extra)  # a restart: the two bans come back
    clock.advance(60)
    _offend(again, clock, "203.0.113.3")
    assert enforcer.elements()["web"] == ["203.0.113.0/24"]


def test_ipv6_sources_counted_per_64(tmp_path: Path) -> None:
    daemon, clock, _ = _daemon(tmp_path, "", "ipv6_key_prefix = 64\nmaxretry = 3\n")
    jail = daemon.pipeline.jails["mail"]
    decisions = []
    for host in (1, 2, 3):  # three addresses of one /64: one key
        failure = Failure("mail", f"2001:db8:1:2::{host}", clock.now(), "/mail.log", host, "x")
        decision = jail.on_failure(failure)
        if decision:
            decisions.append(decision)
    assert [d.key for d in decisions] == ["2001:db8:1:2::/64"]
