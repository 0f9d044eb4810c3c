"""fail2ban's value syntax: `name[key=value,…]` references, word lists, booleans, durations."""

from __future__ import annotations

import re

# The same grammar as fail2ban's helpers (OPTION_CRE, OPTION_EXTRACT_CRE, OPTION_SPLIT_CRE).
_OPTION = re.compile(r"^([^\[]+)(?:\[(.*)\])?\s*$", re.DOTALL)
_OPTION_EXTRACT = re.compile(
    r'\s*([\w\-_\.]+)=(?:"([^"]*)"|\'([^\']*)\'|([^,\]]*))(?:,|\]\s*\[|$|(?P<wrngA>.+))|,?\s*$'
    r'|(?P<wrngB>.+)', re.DOTALL)
_OPTION_SPLIT = re.compile(
    r'(?:[^\[\s]+(?:\s*\[\s*(?:[\w\-_\.]+=(?:"[^"]*"|\'[^\']*\'|[^,\]]*)\s*(?:,|\]\s*\[)?\s*)*\])?'
    r'\s*|\S+)(?=\n\s*|\s+|$)', re.DOTALL)

_TRUE = frozenset({"1", "yes", "true", "on"})
_FALSE = frozenset({"0", "no", "false", "off"})
_UNITS = (
    (re.compile(r"^(?:years?|yea|yy?)$"), (365 * 3 + 366) * 86400 / 4),
    (re.compile(r"^(?:months?|mon?)$"), (365 * 3 + 366) * 86400 / 4 / 12),
    (re.compile(r"^(?:weeks?|wee|ww?)$"), 7 * 86400),
    (re.compile(r"^(?:days?|da|dd?)$"), 86400),
    (re.compile(r"^(?:hours?|ho|hh?)$"), 3600),
    (re.compile(r"^(?:minutes?|min?|mm?)$"), 60),
    (re.compile(r"^(?:seconds?|sec?|ss?)$"), 1),
)
_DURATION_PART = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)


def extract_options(text: str) -> tuple[str, dict[str, str]]:
    """`name[key=value, key2="v"]` as (name, {key: value}); ValueError on bad syntax."""
    match = _OPTION.match(text)
    if not match:
        raise ValueError(f"expected NAME or NAME[key=value,…], got {text!r}")
    name, arguments = match.groups()
    options: dict[str, str] = {}
    for found in _OPTION_EXTRACT.finditer(arguments or ""):
        if found.group("wrngA") or found.group("wrngB"):
            bad = found.group("wrngA") or found.group("wrngB")
            raise ValueError(f"unexpected text {bad[:25]!r} in the arguments of {name.strip()!r}")
        key = found.group(1)
        if key:
            value = next(v for v in found.group(2, 3, 4) if v is not None)
            options[key.strip()] = value.strip()
    return name.strip(), options


def split_with_options(text: str) -> list[str]:
    """The `name[…]` items of a multi-line action list."""
    return [item.strip() for item in _OPTION_SPLIT.findall(text) if item.strip()]


def split_words(text: str | None) -> list[str]:
    """Words separated by spaces, commas or new lines (fail2ban's splitwords)."""
    return [word for word in re.split(r"[ ,\n]+", text or "") if word.strip()]


def to_bool(text: str) -> bool:
    """fail2ban's booleans: yes/no, true/false, on/off, 1/0; ValueError otherwise."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def positive_seconds(text: str) -> float:
    """A fail2ban duration that must be above zero (findtime); ValueError if not."""
    seconds = to_seconds(text)
    if seconds <= 0:
        raise ValueError(f"expected a duration above zero, such as 10m, got {text.strip()!r}")
    return seconds


def to_seconds(text: str) -> float:
    """A fail2ban duration ("600", "10m", "1h30m", "1 day", "-1") in seconds; ValueError if not."""
    rest = text.strip()
    if not rest:
        raise ValueError("expected a duration such as 600, 10m or 1h, got nothing")
    total = 0.0
    position = 0
    while position < len(rest):
        match = _DURATION_PART.match(rest, position)
        if match is None or match.end() == position:
            raise ValueError(f"expected a duration such as 600, 10m or 1h, got {text!r}")
        number, unit = float(match.group(1)), match.group(2).lower()
        factor = 1.0 if not unit else next(
            (size for pattern, size in _UNITS if pattern.match(unit)), None)
        if factor is None:
            raise ValueError(f"unknown time unit {unit!r} in {text!r}; use s, m, h, d, w")
        total += number * factor
        position = match.end()
        while position < len(rest) and rest[position] in " \t":
            position += 1
    return total
