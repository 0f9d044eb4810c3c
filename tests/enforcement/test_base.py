"""The enforcement seam's values: port parsing, key parsing, remaining timeouts."""

from __future__ import annotations

import pytest

from floodwall.enforcement.base import (
    JailFirewall,
    key_element,
    key_text,
    parse_key,
    timeout_seconds,
)
from floodwall.errors import EnforcementError
from floodwall.model import Ban


def test_ports_resolve_numbers_ranges_and_service_names() -> None:
    jail = JailFirewall("web", ports=("80", "https", "8000-8080", "9000:9001", " ssh ",
                                      "ftp-data"))
    assert jail.port_ranges() == ((80, 80), (443, 443), (8000, 8080), (9000, 9001), (22, 22),
                                  (20, 20))


@pytest.mark.parametrize("port", ["no-such-service", "0", "70000", "90-80", "8000-http-x"])
def test_bad_port_names_the_jail_and_the_port(port: str) -> None:
    with pytest.raises(EnforcementError) as caught:
        JailFirewall("my jail", ports=(port,))
    assert "jail 'my jail'" in str(caught.value) and f"'{port}'" in str(caught.value)


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(EnforcementError, match="protocol 'icmp'"):
        JailFirewall("sshd", ports=("22",), protocol="icmp")


def test_keys_parse_to_canonical_text() -> None:
    assert key_text(parse_key("192.0.2.1")) == "192.0.2.1"
    assert key_text(parse_key("2001:db8::/64")) == "2001:db8::/64"
    assert key_text(parse_key("2001:DB8:0::1")) == "2001:db8::1"
    with pytest.raises(EnforcementError, match="203.0.113.5/24"):
        parse_key("203.0.113.5/24")


def test_timeouts_round_up_and_expire() -> None:
    assert timeout_seconds(Ban("192.0.2.1", "j", 0.0, None), now=50.0) is None
    assert timeout_seconds(Ban("192.0.2.1", "j", 0.0, 100.0), now=40.2) == 60
    assert timeout_seconds(Ban("192.0.2.1", "j", 0.0, 100.0), now=99.99) == 1
    assert timeout_seconds(Ban("192.0.2.1", "j", 0.0, 100.0), now=100.0) == 0


def test_key_element_agrees_with_the_general_parser() -> None:
    for key in ("192.0.2.1", "0.0.0.0", "255.255.255.255", "198.51.100.0/24",
                "2001:db8::1", "2001:DB8:0::1", "::ffff:192.0.2.1", "2001:db8::/64"):
        network = parse_key(key)
        assert key_element(key) == (network.version, network.prefixlen == network.max_prefixlen,
                                    key_text(network))
    for bad in ("010.0.0.1", "10.1", "192.0.2.1 ", "192.0.2.256", "203.0.113.5/24", "x"):
        with pytest.raises(EnforcementError):
            key_element(bad)
