"""The prefilter: finds, before any parsing, the lines that may make a failure in some jail.

Each filter states what a line MUST contain to possibly match: groups of literal strings,
at least one of each group (e.g. one of `" 404 `, `" 403 `… and `"GET `). Its FIRST group
is the most selective one: a buffer of many lines is scanned for the first groups of all
jails at once by one regular expression running in C, and only the lines where it hits are
checked for the other groups. A filter that cannot state a condition lets every line
through. A prefilter may let through lines that then do not match; it never drops one that
would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

Condition = tuple[tuple[str, ...], ...]
"""Groups of alternatives: a line must contain one string of every group."""


class Prefilter:
    """A necessary condition over lines, for single lines and for whole buffers."""

    def __init__(self, conditions: Sequence[Condition | None]) -> None:
        self.passes_everything = not conditions or any(not c for c in conditions)
        kept = [] if self.passes_everything else [c for c in conditions if c]
        self._text = list(kept)
        anchors = sorted({s.encode() for c in kept for s in c[0]}, key=len, reverse=True)
        # For each anchor literal: the rest (groups after the first) of every condition it
        # opens; a hit then only needs those groups checked.
        self._rests: list[list[tuple[tuple[bytes, ...], ...]]] = [
            [tuple(tuple(s.encode() for s in group) for group in c[1:])
             for c in kept if anchor.decode() in c[0]] for anchor in anchors]
        self._scan = _Scanner(anchors) if anchors else None

    def text(self, line: str) -> bool:
        """True if the line may produce a failure."""
        return self.passes_everything or any(
            all(any(s in line for s in group) for group in condition)
            for condition in self._text)

    def spans(self, buffer: bytes) -> Iterator[tuple[int, int]]:
        """(start, end) of each line of `buffer` (complete lines) that may produce a failure.

        Only for a prefilter that does not pass everything (callers read every line then).
        """
        assert self._scan is not None, "a prefilter that passes everything has no spans"
        last_start = -1
        for position, anchor in self._scan.hits(buffer):
            start = buffer.rfind(b"\n", 0, position) + 1
            if start == last_start:
                continue  # this line already passed
            end = buffer.find(b"\n", position)
            end = len(buffer) if end < 0 else end
            if _any_rest_holds(self._rests[anchor], buffer[start:end]):
                last_start = start
                yield start, end


def _any_rest_holds(rests: list[tuple[tuple[bytes, ...], ...]], line: bytes) -> bool:
    """True if, for one of the conditions, every group has a literal in the line."""
    for rest in rests:
        for group in rest:
            for literal in group:
                if literal in line:
                    break
            else:
                break  # no literal of this group: this condition fails
        else:
            return True
    return False


class _Scanner:
    """Finds every occurrence of a set of literals in a buffer: Hyperscan when installed
    (one pass, SIMD), else Python's re (same answers, several times slower)."""

    def __init__(self, literals: Sequence[bytes]) -> None:
        self._hyperscan: Any = None
        try:
            import hyperscan
        except ImportError:  # not built for this platform: the re fallback below
            hyperscan = None  # type: ignore[assignment]
        if hyperscan is not None:
            database = hyperscan.Database()
            database.compile(expressions=[re.escape(s) for s in literals],
                             ids=list(range(len(literals))), elements=len(literals),
                             flags=[0] * len(literals))
            self._hyperscan = database
        self._regex = re.compile(b"|".join(b"(" + re.escape(s) + b")" for s in literals))

    def hits(self, buffer: bytes) -> list[tuple[int, int]]:
        """(end offset, literal index) of every occurrence, by increasing end."""
        if self._hyperscan is None:
            return [(match.end(), match.lastindex - 1)  # type: ignore[operator]
                    for match in self._regex.finditer(buffer)]
        found: list[tuple[int, int]] = []

        def collect(index: int, _start: int, end: int, _flags: int, _context: object) -> None:
            found.append((end, index))

        self._hyperscan.scan(buffer, match_event_handler=collect)
        found.sort()  # several literals: make the order of ends certain
        return found
