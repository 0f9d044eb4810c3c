"""Ban keys have one spelling, and only addresses and prefixes a firewall set can hold are keys."""

from __future__ import annotations

import pytest

from floodwall.addresses import ban_key, is_ban_key, normalise_address


@pytest.mark.parametrize(("text", "key"), [
    ("198.51.100.7", "198.51.100.7"),
    (" 198.51.100.7 ", "198.51.100.7"),
    ("[2001:DB8::7]", "2001:db8::7"),
    ("::ffff:198.51.100.7", "198.51.100.7"),
    ("198.51.100.7/32", "198.51.100.7"),
    ("2001:db8::7/128", "2001:db8::7"),
    ("198.51.100.9/24", "198.51.100.0/24"),
    ("2001:db8:0:0:1::/64", "2001:db8::/64"),
])
def test_every_spelling_of_an_address_or_prefix_has_one_key(text: str, key: str) -> None:
    assert ban_key(text) == key
    assert is_ban_key(key)


@pytest.mark.parametrize(("text", "message"), [
    ("garbage", "is not an IP address or CIDR prefix; write an address"),
    ("", "is not an IP address or CIDR prefix"),
    ("198.51.100.300", "is not an IP address or CIDR prefix"),
    ("10.0.0.0/33", "is not an IP address or CIDR prefix; write a prefix"),
    ("fe80::1%eth0", "zone id"),
    ("fe80::/64%eth0", "zone id"),
    ("$(reboot)", "is not an IP address"),
])
def test_what_no_firewall_set_can_hold_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ban_key(text)
    assert not is_ban_key(text)


def test_a_scoped_address_in_a_log_line_is_no_address() -> None:
    assert normalise_address("fe80::1%eth0") is None
    assert normalise_address("fe80::1") == "fe80::1"


def test_keys_spelt_otherwise_are_not_keys() -> None:
    assert not is_ban_key("198.51.100.9/24")
    assert not is_ban_key("::ffff:198.51.100.7")
