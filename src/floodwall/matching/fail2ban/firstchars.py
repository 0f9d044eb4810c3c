"""Which characters can open a match of a `^`-anchored regex, so a line is only tried
against the failregexes that can match text starting the way it does.

Most stock failregexes start with `^` and a literal word ("Failed ", "Invalid user "...);
without MULTILINE, `^` holds only at the start of the text, so a regex whose possible
first characters exclude the text's first character cannot match it. The sets computed
here are supersets (assertions are skipped, optional parts widen them), never narrower.
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from typing import Any

from floodwall.matching.fail2ban.prefilter import char_members

MAX_STEPS = 2000
"""Analysis work after which a regex is treated as able to start with anything."""

_START_ANCHORS = (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING)
_SINGLE = (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)


class _Anything(Exception):
    """The regex may match text starting with any character (or nothing)."""


def leading_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """The ASCII characters a match of `pattern` can begin with, if every match must sit at
    the start of the text; None when it may match elsewhere or begin with other characters."""
    if pattern.flags & re.MULTILINE:
        return None
    parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    walker = _Walker(parsed.state.flags)
    try:
        codes = walker.anchored(list(parsed))
    except _Anything:
        return None
    return frozenset(chr(code) for code in codes)


class _Walker:
    """Follows the parsed regex to its first consuming characters."""

    def __init__(self, flags: int) -> None:
        self._flags = flags
        self._steps = 0

    def _step(self) -> None:
        self._steps += 1
        if self._steps > MAX_STEPS:
            raise _Anything

    def anchored(self, nodes: list[tuple[Any, Any]]) -> set[int]:
        """First characters of `nodes`, which must begin with a start-of-text anchor."""
        self._step()
        if not nodes:
            raise _Anything
        (op, value), rest = nodes[0], nodes[1:]
        if op is sre.AT and value in _START_ANCHORS:
            return self.first(rest)
        if op is sre.BRANCH:
            return set().union(*(self.anchored(list(branch) + rest) for branch in value[1]))
        if op is sre.SUBPATTERN and not value[1] and not value[2]:
            return self.anchored(list(value[3]) + rest)
        raise _Anything

    def first(self, nodes: list[tuple[Any, Any]]) -> set[int]:
        """Characters the sequence `nodes` can begin with (it must consume at least one)."""
        self._step()
        if not nodes:
            raise _Anything  # an empty match: the text may begin with anything
        (op, value), rest = nodes[0], nodes[1:]
        if op in _SINGLE:
            members, wide = char_members((op, value), self._flags)
            if wide:
                raise _Anything
            return set(members)
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            return self.first(rest)  # skipping a zero-width check only widens the set
        if op is sre.SUBPATTERN:
            if value[1] or value[2]:
                raise _Anything  # inline flags change what the characters mean
            return self.first(list(value[3]) + rest)
        if op is sre.ATOMIC_GROUP:
            return self.first(list(value) + rest)
        if op is sre.BRANCH:
            return set().union(*(self.first(list(branch) + rest) for branch in value[1]))
        if op in _REPEATS:
            low, _high, sub = value
            found = self.first(list(sub) + rest)
            return found if low else found | self.first(rest)
        raise _Anything  # back-references, conditionals: not followed
