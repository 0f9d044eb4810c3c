"""Finds the line of a table or key in TOML text, so config errors can name it."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def _normalise(dotted: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in dotted.split("."))


def find_line(text: str, table: str, key: str | None = None) -> int | None:
    """1-based line of `key` inside `[table]` (or of the header itself when key is None)."""
    current = ""
    header_line: int | None = 1 if table == "" else None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            current = _normalise(header.group(1))
            if current == table and header_line is None:
                header_line = number
                if key is None:
                    return number
            continue
        if key is not None and current == table:
            match = _KEY.match(line)
            if match and _normalise(match.group(1)) == key:
                return number
    return header_line
