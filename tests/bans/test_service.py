"""The one ban path: decisions, bans from elsewhere, hand bans, imports, lifting and expiry
through a real ledger (SQLite in memory), the recording firewall and a manual clock."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from floodwall.addresses import Allowlist
from floodwall.bans.addons import Addon
from floodwall.bans.ledger import Ledger
from floodwall.bans.policy import BanPolicy
from floodwall.bans.service import MANUAL_JAIL, BanService
from floodwall.bans.transfer import Entry
from floodwall.clock import ManualClock
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.errors import ControlError, EnforcementError
from floodwall.model import Ban, Change, Decision, Failure
from floodwall.settings.values import Config
from floodwall.storage.database import IN_MEMORY, Database
from tests.support.configs import Table, load

NOW = 1_800_000_000.0
JAILS = {"web": {"logpath": "web.log", "bantime": "1h", "ignoreip": ["192.0.2.250"]},
         "mail": {"logpath": "mail.log", "bantime": "1h"}}
"""Two jails banning for an hour; 192.0.2.250 is allowlisted in `web`."""


class Notes(Addon):
    """An add-on that writes down what it is told (and fails when asked to)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.bans: list[Ban] = []
        self.unbans: list[Ban] = []

    def on_ban(self, bans: Sequence[Ban]) -> None:
        """Note the bans."""
        if self.fail:
            raise RuntimeError("a bug in an add-on")
        self.bans += bans

    def on_unban(self, bans: Sequence[Ban]) -> None:
        """Note the unbans."""
        self.unbans += bans


class FlakyFirewall(RecordingEnforcer):
    """Refuses the next `failures` calls of apply, then records as usual."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures = failures

    def apply(self, changes: Sequence[Change], now: float) -> None:
        """Fail while failures are left, else record."""
        if self.failures:
            self.failures -= 1
            raise EnforcementError("nft: the kernel said no")
        super().apply(changes, now)


@dataclass
class Setting:
    """A service with what a test looks at."""

    service: BanService
    clock: ManualClock
    firewall: RecordingEnforcer
    notes: Notes
    resets: list[tuple[str, str | None]] = field(default_factory=list)


def _config(tmp_path: Path, **sections: Table) -> Config:
    """The two jails of JAILS with these sections ([aggregate], [recidive]...)."""
    return load(tmp_path, {name: {**jail, "logpath": str(tmp_path / jail["logpath"])}
                           for name, jail in JAILS.items()},
                floodwall={"protect_ssh_sessions": False}, **sections)


def _setting(tmp_path: Path, firewall: RecordingEnforcer | None = None,
             addons: Sequence[Addon] = (), **sections: Table) -> Setting:
    config = _config(tmp_path, **sections)
    database = Database(IN_MEMORY)
    jails = config.enabled_jails()
    policy = BanPolicy({j.name: j for j in jails}, Allowlist(config.ignoreip),
                       history=database.count_bans, history_seconds=config.history)
    clock = ManualClock(NOW)
    firewall = firewall or RecordingEnforcer()
    notes = Notes()
    resets: list[tuple[str, str | None]] = []
    service = BanService(config, Ledger(database), policy, firewall, clock,
                         addons=[*addons, notes],
                         reset_count=lambda key, jail: resets.append((key, jail)))
    service.rebuild_firewall()
    return Setting(service, clock, firewall, notes, resets)


def _decision(key: str, jail: str = "web", when: float = NOW) -> Decision:
    failures = tuple(Failure(jail, key, when - n, f"/{jail}.log", n, "line") for n in range(3))
    return Decision(jail, key, when, "3 failures", failures, 3)


def test_a_decision_bans_once_resets_its_own_jails_count_and_tells_the_addons(
        tmp_path: Path) -> None:
    s = _setting(tmp_path)
    [ban] = s.service.decide([_decision("203.0.113.5"), _decision("203.0.113.5")], NOW)
    assert (ban.key, ban.jail, ban.start, ban.until) == ("203.0.113.5", "web", NOW, NOW + 3600)
    assert s.service.ledger.is_banned("web", "203.0.113.5", NOW)
    assert s.firewall.elements()["web"] == ["203.0.113.5"]
    assert s.notes.bans == [ban] and s.resets == [("203.0.113.5", "web")]
    assert s.service.decide([_decision("203.0.113.5")], NOW + 10) == []  # banned already
    assert s.service.made == {"web": 1}


def test_a_refused_key_is_never_banned_and_said_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = _setting(tmp_path)
    s.service.policy.protect({"198.51.100.1": "it is a fleet node"})
    with caplog.at_level(logging.WARNING, logger="floodwall"):
        for jail in ("web", "mail"):
            assert s.service.decide([_decision("198.51.100.1", jail)], NOW) == []
    assert [r.getMessage() for r in caplog.records] == [
        "not banning 198.51.100.1 (jail web would have): it is a fleet node"]
    assert s.service.ledger.active() == []


def test_bans_from_elsewhere_reset_every_jails_count_and_get_a_firewall_set(
        tmp_path: Path) -> None:
    s = _setting(tmp_path)
    fleet = Ban("203.0.113.6", "elsewhere", NOW, NOW + 600, 5, "gw2", "5 failures")
    assert s.service.apply([(fleet, ())], NOW) == [fleet]
    assert "elsewhere" in {jail.name for jail in s.firewall.setups[-1]}
    assert s.firewall.elements()["elsewhere"] == ["203.0.113.6"]
    assert s.resets == [("203.0.113.6", None)]
    longer = Ban("203.0.113.6", "elsewhere", NOW, NOW + 1200, 2, "gw3")
    [extended] = s.service.apply([(longer, ())], NOW)
    assert (extended.until, extended.count, extended.origin) == (NOW + 1200, 7, "gw2")
    assert s.service.apply([(fleet, ())], NOW) == []  # shorter: changes nothing


def test_lifting_tells_the_addons_and_expiry_does_not(tmp_path: Path) -> None:
    s = _setting(tmp_path)
    s.service.decide([_decision("203.0.113.7"), _decision("203.0.113.8", "mail")], NOW)
    [lifted] = s.service.lift("203.0.113.7", NOW + 5, "unbanned by hand")
    assert lifted.key == "203.0.113.7" and s.notes.unbans == [lifted]
    assert s.firewall.elements()["web"] == []
    s.service.expire(NOW + 3599)
    assert s.firewall.elements()["mail"] == ["203.0.113.8"]
    s.service.expire(NOW + 3600)
    assert s.firewall.elements()["mail"] == [] and s.service.ledger.active() == []
    assert s.notes.unbans == [lifted]
    ended = {stored.ban.key: stored.end_reason
             for stored in s.service.ledger.database.recent_bans()}
    assert ended == {"203.0.113.7": "unbanned by hand", "203.0.113.8": "expired"}


def test_hand_bans_name_a_running_jail_and_spare_allowlisted_keys_unless_forced(
        tmp_path: Path) -> None:
    s = _setting(tmp_path)
    with pytest.raises(ControlError, match="no jail named 'ftp'; use one of manual, web, mail"):
        s.service.ban_by_hand("203.0.113.9", "ftp")
    with pytest.raises(ControlError, match="allowlisted .*--force"):
        s.service.ban_by_hand("192.0.2.250", "web")
    with pytest.raises(ControlError, match="ssh session"):
        s.service.ban_by_hand("192.0.2.9", ssh_connection="192.0.2.9 50000 192.0.2.1 22")
    [forced] = s.service.ban_by_hand("192.0.2.250", "web", force=True)
    [permanent] = s.service.ban_by_hand("203.0.113.9", bantime=None, reason="known botnet")
    assert (forced.jail, forced.until, forced.origin) == ("web", NOW + 3600, "manual")
    assert (permanent.jail, permanent.until, permanent.reason) == (
        MANUAL_JAIL, None, "known botnet")
    assert s.resets == [("192.0.2.250", None), ("203.0.113.9", None)]


def test_imports_keep_the_past_enforce_the_present_and_refuse_allowlisted_keys(
        tmp_path: Path) -> None:
    s = _setting(tmp_path)
    entries = [Entry(Ban("203.0.113.10", "web", NOW - 7200, NOW - 3600, 5, "gw9")),
               Entry(Ban("203.0.113.11", "web", NOW - 60, NOW + 600, 5, "gw9")),
               Entry(Ban("192.0.2.250", "web", NOW - 60, NOW + 600, 5, "gw9"))]
    intake = s.service.take_in(entries)
    assert (intake.enforced, intake.history, intake.known, intake.allowlisted) == (
        1, 1, 0, ("192.0.2.250",))
    assert s.firewall.elements()["web"] == ["203.0.113.11"]
    assert s.service.take_in(entries).known == 2  # the same file again changes nothing


def test_a_firewall_failure_keeps_the_ban_and_the_next_retry_rebuilds(tmp_path: Path) -> None:
    s = _setting(tmp_path, firewall=FlakyFirewall())
    assert isinstance(s.firewall, FlakyFirewall)
    s.firewall.failures = 1
    [ban] = s.service.decide([_decision("203.0.113.12")], NOW)
    assert s.service.ledger.is_banned("web", ban.key, NOW)
    assert s.firewall.elements()["web"] == []
    setups = len(s.firewall.setups)
    s.service.retry_firewall()
    assert len(s.firewall.setups) == setups + 1
    assert s.firewall.elements()["web"] == ["203.0.113.12"]
    s.service.retry_firewall()  # nothing failed since: no rebuild
    assert len(s.firewall.setups) == setups + 1


def test_an_addon_that_fails_neither_blocks_nor_undoes_a_ban(tmp_path: Path) -> None:
    s = _setting(tmp_path, addons=[Notes(fail=True)])
    [ban] = s.service.decide([_decision("203.0.113.13")], NOW)
    assert s.firewall.elements()["web"] == [ban.key] and s.notes.bans == [ban]


def test_the_firewall_reads_a_bans_failures_while_it_is_applied(tmp_path: Path) -> None:
    seen: list[Sequence[Failure]] = []
    s: Setting

    class Reading(RecordingEnforcer):
        def apply(self, changes: Sequence[Change], now: float) -> None:
            seen.extend(s.service.evidence(change.ban) for change in changes)
            super().apply(changes, now)

    s = _setting(tmp_path, firewall=Reading())
    decision = _decision("203.0.113.14")
    s.service.decide([decision], NOW)
    assert seen == [decision.failures]
    assert s.service.evidence(s.service.ledger.active()[0]) == ()  # only while applied


def test_a_prefix_ban_replaces_its_members_and_recidive_follows_repeats(tmp_path: Path) -> None:
    s = _setting(tmp_path, aggregate={"count": 2, "within": "1h"},
                 recidive={"maxretry": 2, "findtime": "1d", "bantime": "1w"})
    s.service.decide([_decision("203.0.113.1")], NOW)
    made = s.service.decide([_decision("203.0.113.2")], NOW + 1)
    assert [(b.key, b.jail) for b in made] == [("203.0.113.2", "web"),
                                                ("203.0.113.0/24", "web")]
    assert sorted(b.key for b in s.notes.unbans) == ["203.0.113.1", "203.0.113.2"]
    assert s.firewall.elements()["web"] == ["203.0.113.0/24"]
    assert s.service.decide([_decision("203.0.113.3")], NOW + 2) == []  # inside the prefix
    s.service.decide([_decision("198.51.100.20", "mail")], NOW)
    made = s.service.decide([_decision("198.51.100.20", "web")], NOW + 3)
    assert [(b.jail, b.until) for b in made] == [("web", NOW + 3 + 3600),
                                                 ("recidive", NOW + 3 + 7 * 86400)]


def test_a_reconfigured_service_keeps_what_was_protected_meanwhile(tmp_path: Path) -> None:
    s = _setting(tmp_path)
    s.service.policy.protect({"198.51.100.30": "it is fleet node gw2"})
    s.service.decide([_decision("203.0.113.40")], NOW)
    config = _config(tmp_path, aggregate={"count": 2})
    policy = BanPolicy({j.name: j for j in config.enabled_jails()}, Allowlist(()))
    firewall = RecordingEnforcer()
    s.service.reconfigure(config, policy, firewall)
    assert s.service.policy.refusal("198.51.100.30") is not None
    assert firewall.elements()["web"] == ["203.0.113.40"]  # rebuilt with the active bans
    made = s.service.decide([_decision("203.0.113.41")], NOW + 1)  # regrouped: aggregates
    assert [b.key for b in made] == ["203.0.113.41", "203.0.113.0/24"]


def test_keys_no_firewall_set_can_hold_never_enter_and_the_rest_of_the_batch_does(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    setting = _setting(tmp_path)
    service = setting.service
    bad = ["garbage", "fe80::1%eth0", "198.51.100.9/24", "::ffff:198.51.100.7", ""]
    bans = [(Ban(key, "web", NOW, NOW + 60, 1, "gw2", "from the fleet"), ()) for key in
            [*bad, "198.51.100.8"]]
    with caplog.at_level(logging.ERROR):
        applied = service.apply(bans, NOW)
    assert [ban.key for ban in applied] == ["198.51.100.8"]
    assert [ban.key for ban in service.ledger.active()] == ["198.51.100.8"]
    assert setting.firewall.elements()["web"] == ["198.51.100.8"]
    assert "zone id" in caplog.text and "it is spelt '198.51.100.0/24'" in caplog.text
    assert caplog.text.count("refusing a ban of jail web from gw2") == len(bad)


def test_a_prefix_holding_what_must_not_be_banned_is_refused_from_every_origin(
        tmp_path: Path) -> None:
    s = _setting(tmp_path)
    s.service.policy.protect({"198.51.100.30": "it is this host's own address"})
    for everything in ("0.0.0.0/0", "::/0", "127.0.0.0/16", "198.51.100.0/24"):
        with pytest.raises(ControlError, match="not even --force"):
            s.service.ban_by_hand(everything, force=True)
    with pytest.raises(ControlError, match="not even --force"):
        s.service.ban_by_hand("127.0.0.1", force=True)
    # An allowlisted address inside a prefix: refused, unless the operator forces it.
    with pytest.raises(ControlError, match="allowlisted .*use --force"):
        s.service.ban_by_hand("192.0.2.0/24", "web")
    [forced] = s.service.ban_by_hand("192.0.2.0/24", "web", force=True)
    assert forced.key == "192.0.2.0/24"
    # The fleet, imports and decisions (an IPv6 prefix key) are refused the same way.
    fleet = [(Ban(key, "mail", NOW, NOW + 60, 1, "gw2", "fleet"), ())
             for key in ("0.0.0.0/0", "::/0", "198.51.100.0/24", "203.0.113.50")]
    assert [ban.key for ban in s.service.apply(fleet, NOW)] == ["203.0.113.50"]
    assert s.service.take_in([Entry(Ban("198.51.100.0/25", "mail", NOW, NOW + 60, 1,
                                        "gw9"))]).allowlisted == ("198.51.100.0/25",)
    s.service.policy.protect({"2001:db8::5": "it is the peer of a live ssh session"})
    assert s.service.decide([_decision("2001:db8::/64", "mail")], NOW) == []
    assert sorted(b.key for b in s.service.ledger.active()) == ["192.0.2.0/24", "203.0.113.50"]


def test_aggregation_never_bans_a_prefix_holding_an_allowlisted_address(tmp_path: Path) -> None:
    s = _setting(tmp_path, aggregate={"count": 2, "within": "1h"})
    s.service.decide([_decision("192.0.2.1")], NOW)
    made = s.service.decide([_decision("192.0.2.2")], NOW + 1)
    assert [b.key for b in made] == ["192.0.2.2"]  # 192.0.2.250, the office, is in the /24
    assert s.firewall.elements()["web"] == ["192.0.2.1", "192.0.2.2"]
    assert s.notes.unbans == []


def test_force_never_bans_the_operators_own_session_but_may_ban_another_ssh_peer(
        tmp_path: Path) -> None:
    s = _setting(tmp_path)
    s.service.policy.protect({"198.51.100.40": "it is the peer of a live ssh session"},
                             overridable=True)
    with pytest.raises(ControlError, match="not even --force"):
        s.service.ban_by_hand("192.0.2.9", ssh_connection="192.0.2.9 50000 192.0.2.1 22",
                              force=True)
    with pytest.raises(ControlError, match="live ssh session .*use --force"):
        s.service.ban_by_hand("198.51.100.40")
    # A reload keeps both kinds as they were.
    s.service.reconfigure(s.service.config, BanPolicy({}, Allowlist()), s.firewall)
    with pytest.raises(ControlError, match="not even --force"):
        s.service.ban_by_hand("192.0.2.9", force=True)
    [forced] = s.service.ban_by_hand("198.51.100.40", force=True)
    assert forced.key == "198.51.100.40"
