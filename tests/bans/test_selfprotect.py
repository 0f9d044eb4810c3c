"""The operator's own ssh session, read from SSH_CONNECTION, is never banned."""

from __future__ import annotations

from floodwall.bans.selfprotect import requester_session


def test_the_client_of_an_ssh_session_is_protected_and_odd_values_are_ignored() -> None:
    assert requester_session("203.0.113.5 50022 192.0.2.1 22") == {
        "203.0.113.5": "it is the address of your current ssh session"}
    assert requester_session("2001:db8::5 50022 2001:db8::1 22") == {
        "2001:db8::5": "it is the address of your current ssh session"}
    assert requester_session(None) == {} and requester_session("") == {}
    assert requester_session("   ") == {}  # was an IndexError
    assert requester_session("not-an-address 1 2 3") == {}
