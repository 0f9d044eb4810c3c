"""Durations as operators write them: 300, "5m", "1h30m", "1d"; bantime also "-1"/"permanent"."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_WHOLE = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[smhdw]?\s*)+$")

PERMANENT_WORDS = frozenset({"-1", "permanent", "forever"})


def parse_duration(value: object) -> float:
    """Seconds for a duration given as a number or a text like '1h30m'; ValueError if invalid."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 600, \"10m\" or \"1h\"")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str) and _WHOLE.match(value.strip().lower()):
        return float(sum(float(n) * _UNITS[u or "s"] for n, u in _PART.findall(value.lower())))
    raise ValueError(f"expected a duration such as 600, \"10m\" or \"1h\", got {value!r}")


def parse_bantime(value: object) -> float | None:
    """Seconds for a ban duration, or None for a permanent ban (-1, "permanent")."""
    if value == -1 or (isinstance(value, str) and value.strip().lower() in PERMANENT_WORDS):
        return None
    seconds = parse_duration(value)
    if seconds == 0:
        raise ValueError("a ban of 0 seconds bans nothing; use -1 or \"permanent\" for a "
                         "permanent ban")
    return seconds


def format_duration(seconds: float | None) -> str:
    """Short human text for a duration ('1h', '10m', '45s', 'permanent')."""
    if seconds is None:
        return "permanent"
    seconds = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts)
