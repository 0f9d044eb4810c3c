"""DryRunEnforcer: logs instead of firewalling, and keeps keys that expire by its clock."""

from __future__ import annotations

import logging

import pytest

from floodwall.clock import ManualClock
from floodwall.enforcement.base import ApplyError, JailFirewall
from floodwall.enforcement.dryrun import DryRunEnforcer
from floodwall.model import Ban, Change


def ban(key: str, clock: ManualClock, seconds: float | None, jail: str = "sshd") -> Ban:
    until = None if seconds is None else clock.now() + seconds
    return Ban(key, jail, start=clock.now(), until=until)


def test_logs_each_change_and_remembers_keys(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    enforcer = DryRunEnforcer(clock)
    caplog.set_level(logging.INFO, logger="floodwall.enforcement")
    enforcer.setup([JailFirewall("sshd", ports=("ssh",)), JailFirewall("web")])

    enforcer.apply([Change("add", ban("192.0.2.7", clock, 600)),
                    Change("add", ban("2001:db8::/64", clock, None, jail="web")),
                    Change("remove", ban("198.51.100.1", clock, None))], now=clock.now())

    assert enforcer.elements() == {"sshd": ["192.0.2.7"], "web": ["2001:db8::/64"]}
    messages = [record.getMessage() for record in caplog.records]
    assert "dry run: would drop banned keys of jail 'sshd' on ssh (tcp)" in messages
    assert "dry run: would ban 192.0.2.7 in jail 'sshd' for 600s" in messages
    assert "dry run: would ban 2001:db8::/64 in jail 'web' permanently" in messages
    assert "dry run: would unban 198.51.100.1 in jail 'sshd'" in messages


def test_keys_expire_with_the_clock_and_readding_extends() -> None:
    clock = ManualClock()
    enforcer = DryRunEnforcer(clock)
    enforcer.setup([JailFirewall("sshd")])
    enforcer.apply([Change("add", ban("192.0.2.7", clock, 10)),
                    Change("add", ban("192.0.2.8", clock, 10))], now=clock.now())
    enforcer.apply([Change("add", ban("192.0.2.8", clock, 100))], now=clock.now())

    clock.advance(11)
    assert enforcer.elements() == {"sshd": ["192.0.2.8"]}
    clock.advance(100)
    assert enforcer.elements() == {"sshd": []}


def test_expired_ban_is_skipped_and_remove_takes_the_key_out() -> None:
    clock = ManualClock()
    enforcer = DryRunEnforcer(clock)
    enforcer.setup([JailFirewall("sshd")])
    old = Ban("192.0.2.9", "sshd", start=clock.now() - 100, until=clock.now() - 1)
    enforcer.apply([Change("add", old), Change("add", ban("192.0.2.7", clock, None))],
                   now=clock.now())
    assert enforcer.elements() == {"sshd": ["192.0.2.7"]}
    enforcer.apply([Change("remove", ban("192.0.2.7", clock, None))], now=clock.now())
    assert enforcer.elements() == {"sshd": []}


def test_bad_changes_are_reported_and_the_others_kept() -> None:
    clock = ManualClock()
    enforcer = DryRunEnforcer(clock)
    enforcer.setup([JailFirewall("sshd")])
    with pytest.raises(ApplyError) as caught:
        enforcer.apply([Change("add", ban("192.0.2.300", clock, 60)),
                        Change("add", ban("192.0.2.1", clock, 60, jail="ghost")),
                        Change("add", ban("192.0.2.2", clock, 60))], now=clock.now())
    assert [change.ban.key for change, _ in caught.value.failures] == ["192.0.2.300", "192.0.2.1"]
    assert "jail 'ghost'" in str(caught.value)
    assert enforcer.elements() == {"sshd": ["192.0.2.2"]}


def test_setup_and_teardown_forget_keys() -> None:
    clock = ManualClock()
    enforcer = DryRunEnforcer(clock)
    enforcer.setup([JailFirewall("sshd")])
    enforcer.apply([Change("add", ban("192.0.2.7", clock, None))], now=clock.now())
    enforcer.setup([JailFirewall("sshd"), JailFirewall("web")])
    assert enforcer.elements() == {"sshd": [], "web": []}
    enforcer.teardown()
    assert enforcer.elements() == {}
