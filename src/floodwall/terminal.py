"""Text from logs made safe for a terminal: an attacker's bytes never drive the operator's
screen (escape sequences that set titles, clear or rewrite it)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

_REPLACE = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\"}


@lru_cache(maxsize=4096)
def printable(text: str) -> str:
    """`text` with every control, format and separator character that is not a plain space
    written as an escape (`\\x1b`, `\\u202e`…), and backslashes doubled, so that what is
    shown is what is there. JSON output needs none of this: it escapes by itself."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    if char in _REPLACE:
        return _REPLACE[char]
    if char == " " or unicodedata.category(char)[0] not in "CZ":
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"
