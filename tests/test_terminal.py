"""Log text shown on a terminal: control characters escaped, ordinary text untouched."""

from __future__ import annotations

from floodwall.terminal import printable


def test_ordinary_text_is_shown_as_it_is() -> None:
    for text in ("GET /wp-login.php 404", "café ünïcode 日本", ""):
        assert printable(text) == text


def test_controls_and_invisible_characters_are_escaped() -> None:
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("tab\there\r\nnext") == "tab\\there\\r\\nnext"
    assert printable("\x9b\u202e\u2028\x00") == "\\x9b\\u202e\\u2028\\x00"
    assert printable("a\\x1b") == "a\\\\x1b"  # a written-out escape stays told apart
    assert printable("\U000e0001") == "\\U000e0001"
