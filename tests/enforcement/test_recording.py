"""RecordingEnforcer: records calls and tracks keys like a firewall would."""

from __future__ import annotations

from floodwall.enforcement.base import JailFirewall
from floodwall.enforcement.recording import AppliedBatch, RecordingEnforcer
from floodwall.model import Ban, Change


def test_records_calls_and_tracks_keys() -> None:
    enforcer = RecordingEnforcer()
    jails = (JailFirewall("sshd"),)
    add = Change("add", Ban("192.0.2.1", "sshd", 0.0, 60.0))
    remove = Change("remove", Ban("192.0.2.1", "sshd", 0.0, 60.0))
    enforcer.setup(jails)
    enforcer.apply([add, Change("add", Ban("192.0.2.2", "sshd", 0.0, None))], now=1.0)
    enforcer.apply([remove], now=2.0)

    assert enforcer.setups == [jails]
    assert enforcer.batches[1] == AppliedBatch((remove,), 2.0)
    assert enforcer.changes[0] == add and len(enforcer.changes) == 3
    assert enforcer.elements() == {"sshd": ["192.0.2.2"]}

    enforcer.setup(jails)
    assert enforcer.elements() == {"sshd": []}
    enforcer.teardown()
    assert enforcer.teardowns == 1 and enforcer.elements() == {}
