"""fail2ban regex tags expanded to Python regexes, and group merging."""

from __future__ import annotations

import pytest

from floodwall.errors import ConfigError
from floodwall.matching.fail2ban.hosts import canonical_host
from floodwall.matching.fail2ban.regex import TaggedRegex, expand_tags


def _groups(source: str, text: str) -> dict[str, object]:
    regex = TaggedRegex.compile(source)
    match = regex.pattern.search(text)
    assert match is not None, f"{source!r} should match {text!r}"
    return regex.groups(match)


@pytest.mark.parametrize(("text", "group", "value"), [
    ("from 192.0.2.1 port", "ip4", "192.0.2.1"),
    ("from ::ffff:192.0.2.1 port", "ip4", "192.0.2.1"),
    ("from [2001:db8::1] port", "ip6", "2001:db8::1"),
    ("from mail.example.com port", "dns", "mail.example.com"),
])
def test_host_tag_captures_addresses_and_names(text: str, group: str, value: str) -> None:
    assert _groups(r"from <HOST> port", text)[group] == value


def test_addr_tag_does_not_accept_names() -> None:
    assert TaggedRegex.compile(r"^from <ADDR>$").pattern.search("from example.com") is None
    assert expand_tags("<HOST>", use_dns=False) == expand_tags("<ADDR>")


def test_field_tags_alternates_and_aliases() -> None:
    groups = _groups(r"user (?:<F-USER>\w+</F-USER>|as <F-ALT_USER_1>\w+</F-ALT_USER_1>) "
                     r"id <F-ID>\S+</F-ID> port <F-PORT/>", "user as bob id s-42 port 22")
    assert groups["user"] == "bob"
    assert groups["fid"] == "s-42"
    assert groups["fport"] == "22"


def test_unopened_closing_tag_stays_literal_and_inner_flags_become_scoped() -> None:
    assert expand_tags("a</F-X>b") == "a</F-X>b"
    regex = TaggedRegex.compile(r"^x((?i)ABC) <HOST>")
    assert regex.pattern.search("xabc 192.0.2.9") is not None
    assert regex.pattern.search("Xabc 192.0.2.9") is None


def test_skiplines_are_reported_as_skipped() -> None:
    regex = TaggedRegex.compile(r"^start <HOST>$<SKIPLINES>^end$", multiline=True)
    match = regex.pattern.search("start 192.0.2.1\nnoise one\nnoise two\nend\n")
    assert match is not None
    assert regex.skipped_lines(match) == ["noise one", "noise two"]


def test_invalid_regex_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"f\.conf.*invalid regex"):
        TaggedRegex.compile("(unclosed <HOST>", where="f.conf")


@pytest.mark.parametrize(("text", "family", "prefix", "expected"), [
    ("192.0.2.1", 4, None, "192.0.2.1"),
    ("::ffff:192.0.2.1", 6, None, "192.0.2.1"),
    ("2001:DB8:0:0::1", 6, None, "2001:db8::1"),
    ("192.0.2.77", 4, 24, "192.0.2.0/24"),
    ("2001:db8::1", 6, 64, "2001:db8::/64"),
    ("192.030.0.6", 4, None, "192.030.0.6"),
    ("host.example", None, None, "host.example"),
])
def test_canonical_host(text: str, family: int | None, prefix: int | None, expected: str) -> None:
    assert canonical_host(text, family, prefix) == expected
