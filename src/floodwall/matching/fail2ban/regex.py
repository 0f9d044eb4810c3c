"""fail2ban regex tags (<HOST>, <ADDR>, <F-USER>…</F-USER>, <SKIPLINES>) and compiled regexes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from floodwall.errors import ConfigError

IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
IPV6 = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)"

_IP4_GROUP = rf"(?:::f{{4,6}}:)?(?P<ip4>{IPV4})"
_IP6_GROUP = rf"(?P<ip6>{IPV6})"
_DNS_GROUP = r"(?P<dns>[\w\-.^_]*\w)"
_CIDR_GROUP = r"(?P<cidr>\d+)"
_ADDR = rf"\[?(?:{_IP4_GROUP}|{_IP6_GROUP})\]?"
_HOST = rf"(?:{_ADDR}|{_DNS_GROUP})"
_SUBNET = rf"\[?(?:{_IP4_GROUP}|{_IP6_GROUP})(?:/{_CIDR_GROUP})?\]?"

STATIC_TAGS = {
    "IP4": _IP4_GROUP, "F-IP4/": _IP4_GROUP,
    "IP6": _IP6_GROUP, "F-IP6/": _IP6_GROUP,
    "ADDR": _ADDR, "F-ADDR/": _ADDR,
    "CIDR": _CIDR_GROUP, "F-CIDR/": _CIDR_GROUP,
    "SUBNET": _SUBNET, "F-SUBNET/": _SUBNET,
    "DNS": _DNS_GROUP, "F-DNS/": _DNS_GROUP,
    "F-ID/": r"(?P<fid>\S+)",
    "F-PORT/": r"(?P<fport>\w+)",
}
"""Tags replaced by a fixed expression."""

GROUP_ALIASES = {"id": "fid", "port": "fport"}
"""<F-ID> and <F-PORT> capture into the groups fail2ban names `fid` and `fport`."""

_TAG = re.compile(r"</?[\w\-]+/?>")
_FIELD_TAG = re.compile(r"^(/?)F-([A-Z0-9_\-]+)$")
# `((?i)x)` and `(?:(?i)x)` are global flags in the middle of a regex, an error since
# Python 3.11; fail2ban filters use them meaning the scoped `(?i:x)`.
_INNER_GLOBAL_FLAGS = re.compile(r"(?<!\\)\((?:\?:)?(\(\?[a-z]+)\)")
_COMPOSITE_GROUP = re.compile(r"^(alt_|tuple_)(.*?)(?:_\d+)?$")

FAILURE_ID_GROUPS = ("fid", "ip4", "ip6", "dns")
"""Groups that identify a failure, in the order fail2ban prefers them."""


@lru_cache(maxsize=4096)
def _compile(source: str, multiline: bool, use_dns: bool) -> TaggedRegex:
    expanded = expand_tags(source, use_dns)
    if not expanded.strip():
        raise ConfigError("empty regex; remove the blank entry")
    try:
        pattern = re.compile(expanded, re.MULTILINE if multiline else 0)
    except re.error as error:
        raise ConfigError(f"invalid regex {source!r}: {error}; fix the expression") from None
    alternates: list[tuple[str, str]] = []
    tuples: list[tuple[str, str]] = []
    for group in pattern.groupindex:
        composite = _COMPOSITE_GROUP.match(group) if len(group) > 4 else None
        if composite:
            kind, target = composite.groups()
            (alternates if kind == "alt_" else tuples).append((group, group_name(target)))
    skiplines = sum(1 for group in pattern.groupindex if group.startswith("skiplines"))
    return TaggedRegex(source, pattern, tuple(sorted(alternates)), tuple(sorted(tuples)),
                       skiplines)


def group_name(tag_name: str) -> str:
    """The regex group name fail2ban uses for an <F-NAME> tag."""
    lowered = tag_name.lower()
    return GROUP_ALIASES.get(lowered, lowered)


def expand_tags(regex: str, use_dns: bool = True) -> str:
    """Replace fail2ban's tags in `regex` by plain Python regex syntax."""
    open_fields: set[str] = set()
    skiplines = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal skiplines
        tag = match.group()
        name = tag[1:-1]
        if name == "HOST":
            return _HOST if use_dns else _ADDR
        if name == "SKIPLINES":
            skiplines += 1
            return rf"\n(?P<skiplines{skiplines - 1}>(?:(?:.*\n)*?))"
        static = STATIC_TAGS.get(name)
        if static is not None:
            return static
        field_tag = _FIELD_TAG.match(name)
        if not field_tag:
            return tag
        closing, field_name = field_tag.groups()
        if closing:
            return ")" if field_name in open_fields else tag
        open_fields.add(field_name)
        return f"(?P<{group_name(field_name)}>"

    expanded = _TAG.sub(replace, regex)
    return _INNER_GLOBAL_FLAGS.sub(r"\1:", expanded)


@dataclass(frozen=True, slots=True)
class TaggedRegex:
    """A filter regex compiled once, with how to merge its alternate and tuple groups."""

    source: str
    """The regex as written in the filter (tags unexpanded)."""
    pattern: re.Pattern[str]
    """The compiled expansion."""
    alternates: tuple[tuple[str, str], ...]
    """(group, target): `alt_user_1` fills `user` when that is empty."""
    tuples: tuple[tuple[str, str], ...]
    """(group, target): `tuple_id_1` values are appended to `id` as a tuple."""
    skiplines: int
    """How many <SKIPLINES> groups the regex has."""

    @classmethod
    def compile(cls, source: str, *, multiline: bool = False, use_dns: bool = True,
                where: str | None = None) -> TaggedRegex:
        """Expand tags and compile; a bad regex is a ConfigError naming the filter file.

        The result is immutable and shared: filters loaded with other options (or again)
        reuse what an identical regex already compiled to."""
        try:
            return _compile(source, multiline, use_dns)
        except ConfigError as error:
            raise ConfigError(str(error), path=where) from None

    def has_failure_id(self) -> bool:
        """Whether a match can name who failed (an address, a host, an <F-ID> or an <F-MLFID>)."""
        return any(group in self.pattern.groupindex for group in FAILURE_ID_GROUPS + ("mlfid",))

    def groups(self, match: re.Match[str]) -> dict[str, object]:
        """The match's named groups with alternates merged and tuples combined."""
        found: dict[str, object] = match.groupdict()
        for group, target in self.alternates:
            value = found.get(group)
            if value and not found.get(target):
                found[target] = value
        for group, target in self.tuples:
            value = found.get(group)
            current = found.get(target)
            found[target] = current + (value,) if isinstance(current, tuple) else (current, value)
        return found

    def skipped_lines(self, match: re.Match[str]) -> list[str]:
        """Lines swallowed by <SKIPLINES> (they are not part of the failure's evidence)."""
        text = "".join(match.group(f"skiplines{i}") or "" for i in range(self.skiplines))
        return text.splitlines()
