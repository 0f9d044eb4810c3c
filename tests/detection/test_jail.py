"""Tests of a running jail: counting its failures into decisions, and a reload's hand-over."""

from __future__ import annotations

from floodwall.addresses import Allowlist
from floodwall.detection.jail import Jail
from floodwall.matching.sshd import SshdFilter
from floodwall.model import Failure
from floodwall.settings.values import JailConfig


def _jail(maxretry: int, findtime: float = 600.0, max_keys: int | None = None) -> Jail:
    config = JailConfig(name="sshd", logpath=(), filter="sshd", maxretry=maxretry,
                        findtime=findtime, bantime=3600)
    return Jail(config, SshdFilter("sshd"), Allowlist(()), max_keys)


def _failure(key: str, time: float) -> Failure:
    return Failure("sshd", key, time, "/var/log/auth.log", 1, "Failed password")


def test_a_reloaded_jail_counts_on_from_the_old_one_under_its_own_rule() -> None:
    old = _jail(maxretry=3)
    assert old.on_failure(_failure("192.0.2.1", 0)) is None
    assert old.on_failure(_failure("192.0.2.1", 1)) is None
    new = _jail(maxretry=4, findtime=60, max_keys=1000)
    new.take_counts(old)
    assert new.failures_seen == 2 and new.windows is old.windows
    assert (new.windows.maxretry, new.windows.findtime, new.windows.max_keys) == (4, 60, 1000)
    assert new.on_failure(_failure("192.0.2.1", 2)) is None  # 3 of 4 now
    decision = new.on_failure(_failure("192.0.2.1", 3))
    assert decision is not None and decision.count == 4 and "limit 4" in decision.reason


def test_a_ban_starts_the_keys_count_over() -> None:
    jail = _jail(maxretry=2)
    jail.on_failure(_failure("192.0.2.2", 0))
    jail.on_ban("192.0.2.2")
    assert jail.on_failure(_failure("192.0.2.2", 1)) is None
    assert jail.on_failure(_failure("192.0.2.2", 2)) is not None
