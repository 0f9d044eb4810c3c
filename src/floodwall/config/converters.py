"""Value converters shared by the config tables: each returns the value or raises ValueError
with what was expected (the loader turns that into a located ConfigError)."""

from __future__ import annotations

from typing import Any


def non_empty_text(value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def boolean(value: Any) -> bool:
    """true or false (not 0/1, not "yes")."""
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value
