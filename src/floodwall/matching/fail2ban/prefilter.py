"""Which lines of a buffer may match a filter's failregexes, found by Hyperscan in one pass.

The failregexes are rewritten into byte patterns that match a SUPERSET of what Python's
`re` matches on the decoded line: anchors and lookarounds are dropped, back-references and
conditionals become what they could match, each character class becomes its ASCII bytes
plus "any run of non-ASCII bytes" when it may match a non-ASCII character (Python's Unicode
classes and case folding included), and, since fail2ban removes the date from a line before
its regexes run, one gap of any length is allowed anywhere inside a match. The patterns are
then widened where that makes the scan cheaper (a literal cut by the gap keeps only some of
its characters; an alternative that ends with another is left to that one). Hyperscan then
scans a whole buffer (in prefilter mode, which may widen a pattern further, never narrow
it), and only the lines it flags go through the exact per-line path. A line it does not
flag cannot produce a failure, so skipping it changes no result.

Hyperscan is installed on x86_64 only (see pyproject.toml). Without it `build` finds no
prefilter and every line goes through the exact path: the same results, more slowly.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import re._compiler as sre_compile  # type: ignore[import-not-found]
import re._constants as sre  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:
    import hyperscan
except ImportError:  # not built for this platform: no prefilter (see `build`)
    hyperscan = None  # type: ignore[assignment]

HYPERSCAN_INSTALLED = hyperscan is not None
"""False where Hyperscan is missing: fail2ban filters then examine every line (slower)."""

MIN_SPLIT_RUN = 6
"""A literal this long keeps half of itself on each side of a gap; a shorter one keeps only
its ends (pieces of one or two characters make Hyperscan slow and select little)."""
MAX_PATTERN_CHARS = 400_000
"""A rewritten pattern longer than this is not worth compiling: the filter runs line by line."""

# The only non-ASCII characters Python's re.IGNORECASE matches to ASCII letters (İ ı ſ K).
_FOLDS_TO_ASCII = "\u0130\u0131\u017f\u212a"
_GAP = "[^\\n]*"
BIG_ITEM_CHARS = 120
"""A gap inside a part rendered longer than this is covered by letting the whole part be any
text (a few more candidate lines; much smaller, faster patterns)."""


class Unsupported(Exception):
    """The regex has no useful superset pattern (it may match anything, or too big)."""


class LinePrefilter:
    """A Hyperscan database of superset patterns, one per failregex (see `build`)."""

    def __init__(self, database: Any) -> None:
        self._database = database

    def line_starts(self, buffer: bytes) -> list[int]:
        """Start offsets, increasing, of the lines of `buffer` that may match.

        Hyperscan reports matches in order of their end; the scan stops at the first one and
        resumes at the next line, so a line costs one report however many patterns hit it.
        """
        view, size = memoryview(buffer), len(buffer)
        ends: list[int] = []

        def first(_id: int, _start: int, end: int, _flags: int, _context: object) -> bool:
            ends.append(end)
            return True  # stop: the rest of this line needs no more reports

        starts: list[int] = []
        offset = 0
        while offset < size:
            ends.clear()
            with contextlib.suppress(hyperscan.ScanTerminated):
                self._database.scan(view[offset:], match_event_handler=first)
            if not ends:
                break
            last = offset + ends[0] - 1  # the last byte matched decides the line
            starts.append(buffer.rfind(b"\n", offset, last) + 1 or offset)
            newline = buffer.find(b"\n", last)
            if newline < 0:
                break
            offset = newline + 1
        return starts


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "floodwall" / "hyperscan"


def build(regexes: Sequence[str], *, flags: int = 0, date_gap: bool = True) -> LinePrefilter:
    """A prefilter for `regexes` (expanded Python regexes); Unsupported when none is useful.

    Rewriting large filters and compiling them takes a tenth of a second to seconds, so the
    result (the database, or that there is none) is kept in the user's cache folder
    (`$XDG_CACHE_HOME/floodwall`), named by a hash of the regexes, of this module's code and
    of the Hyperscan version; an unreadable or unwritable cache only costs the work.
    """
    if hyperscan is None:
        raise Unsupported("Hyperscan is not installed")
    version = str(getattr(hyperscan, "__version__", "")).encode()
    digest = hashlib.sha256(b"\0".join([version, _rewriter_digest(),
                                         repr((list(regexes), flags, date_gap)).encode()]))
    cached = _cache_dir() / f"{digest.hexdigest()}.hsdb"
    try:
        saved = cached.read_bytes()
        if saved == UNSUPPORTED_MARK:
            raise Unsupported("no useful superset pattern (cached verdict)")
        database = hyperscan.loadb(saved, hyperscan.HS_MODE_BLOCK)
        database.scratch = hyperscan.Scratch(database)
        return LinePrefilter(database)
    except (OSError, hyperscan.error):
        pass
    try:
        patterns = [superset_pattern(regex, flags=flags, date_gap=date_gap).encode("ascii")
                    for regex in regexes]
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            database.compile(expressions=patterns, ids=list(range(len(patterns))),
                             elements=len(patterns),
                             flags=[hyperscan.HS_FLAG_PREFILTER] * len(patterns))
        except hyperscan.error as error:
            raise Unsupported(str(error)) from None
    except Unsupported:
        _save(cached, UNSUPPORTED_MARK)
        raise
    _save(cached, hyperscan.dumpb(database))
    return LinePrefilter(database)


UNSUPPORTED_MARK = b"unsupported\n"
"""What the cache holds for regexes without a useful prefilter."""


@functools.lru_cache(maxsize=1)
def _rewriter_digest() -> bytes:
    """A hash of this module's code: a changed rewrite makes earlier cache entries unused."""
    return hashlib.sha256(Path(__file__).read_bytes()).digest()


def _save(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        partial.replace(path)
    except OSError:
        pass


def superset_pattern(regex: str, *, flags: int = 0, date_gap: bool = True) -> str:
    """A Hyperscan byte pattern matching every UTF-8 line on which `regex` has a match."""
    parsed = sre_parse.parse(regex, flags)
    writer = _Writer(parsed.state.flags)
    items = writer.items(list(parsed), parsed.state.flags, top=True)
    if not items:
        raise Unsupported(f"{regex!r} may match an empty string")
    text = writer.sequence(items, gap=date_gap, top=True)
    if len(text) > MAX_PATTERN_CHARS:
        raise Unsupported(f"{regex!r} rewrites to {len(text)} characters")
    return text


class _Item:
    """One element of a sequence, rendered, with what a gap may do inside it."""

    __slots__ = ("absorbs", "inner_gap", "newline", "optional", "text")

    def __init__(self, text: str, inner_gap: str | None = None, *, absorbs: bool = False,
                 optional: bool = False, newline: bool = False) -> None:
        self.text = text
        self.inner_gap = inner_gap
        """The element with one gap strictly inside it (None: single characters)."""
        self.absorbs = absorbs
        """A gap beside it changes nothing (`.*`)."""
        self.optional = optional
        """It may match the empty string."""
        self.newline = newline
        """It may match the newline that ends a line."""


class _Writer:
    """Turns a parsed Python regex into Hyperscan syntax, optionally with one gap inside."""

    def __init__(self, global_flags: int) -> None:
        self._global = global_flags

    def items(self, nodes: list[tuple[Any, Any]], flags: int, *, top: bool = False) -> list[_Item]:
        items = _join_runs([item for node in nodes
                            if (item := self._item(node, flags)) is not None])
        if top:
            # Trailing optional parts widen the set of match ends, not the set of lines.
            while items and items[-1].optional:
                items.pop()
        return items

    def sequence(self, items: list[_Item], *, gap: bool, top: bool = False) -> str:
        """The items in a row; with `gap`, the alternatives with one gap inside the row."""
        plain = "".join(item.text for item in items)
        if not gap:
            return plain
        if top:
            # A gap in the part before the first `.*` is covered by dropping that part: the
            # rest of the row, found anywhere in the line (cheap, and nearly as selective).
            absorbing = next((i for i, item in enumerate(items) if item.absorbs), 0)
            variants = self._gapped(items[absorbing:]) if absorbing else self._gapped(items)
            if absorbing:
                rest = "".join(item.text for item in items[absorbing:])
                variants = [rest] + [variant for variant in variants if variant != rest]
        else:
            variants = self._gapped(items)
        if not variants:
            return plain if top else ""
        if top:
            # A gap may also sit where a `.*` swallows it: the plain row covers that.
            return "|".join(_widest(list(dict.fromkeys(
                _simplified(variant) for variant in [plain, *variants]))))
        return _alternation(variants)

    def _gapped(self, items: list[_Item]) -> list[str]:
        """Alternatives with one gap inside the row, split in halves so the size stays n·log n."""
        if len(items) == 1:
            item = items[0]
            if len(item.text) > BIG_ITEM_CHARS and not item.newline:
                return [_GAP]  # the whole item, gap included, is some text on the line
            return [item.inner_gap] if item.inner_gap else []
        middle = len(items) // 2
        left, right = items[:middle], items[middle:]
        left_text = "".join(item.text for item in left)
        right_text = "".join(item.text for item in right)
        variants: list[str] = []
        if not (left[-1].absorbs or right[0].absorbs):
            variants.append(left_text + _GAP + right_text)
        inner_left = self._gapped(left)
        if inner_left:
            variants.append(_alternation(inner_left) + right_text)
        inner_right = self._gapped(right)
        if inner_right:
            variants.append(left_text + _alternation(inner_right))
        return variants

    def _item(self, node: tuple[Any, Any], flags: int) -> _Item | None:
        op, value = node
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            return None  # dropping an assertion only widens the match
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            text, newline = _char_class(node, flags)
            return _Item(text, newline=newline)
        if op is sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = value
            return self._group(list(sub), (flags | add_flags) & ~del_flags)
        if op is sre.ATOMIC_GROUP:
            return self._group(list(value), flags)
        if op is sre.BRANCH:
            return self._branch([list(branch) for branch in value[1]], flags)
        if op is sre.GROUPREF_EXISTS:
            _group, yes, no = value
            return self._branch([list(yes), list(no) if no is not None else []], flags)
        if op is sre.GROUPREF:
            return _Item(_GAP, absorbs=True, optional=True)  # whatever the group held, on this line
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            return self._repeat(value, flags)
        raise Unsupported(f"regex construct {op} has no superset here")

    def _group(self, nodes: list[tuple[Any, Any]], flags: int) -> _Item | None:
        items = self.items(nodes, flags)
        if not items:
            return None
        if len(items) == 1:
            return items[0]
        inner = self.sequence(items, gap=True)
        return _Item("(?:" + "".join(item.text for item in items) + ")", inner or None,
                     optional=all(item.optional for item in items),
                     newline=any(item.newline for item in items))

    def _branch(self, branches: list[list[tuple[Any, Any]]], flags: int) -> _Item | None:
        rendered = [self.items(branch, flags) for branch in branches]
        texts = ["".join(item.text for item in items) for items in rendered]
        if any(not text for text in texts):
            # One branch may match nothing: the whole alternation is optional.
            alternatives = [text for text in texts if text]
            if not alternatives:
                return None
            text = "(?:" + "|".join(alternatives) + ")?"
        else:
            text = "(?:" + "|".join(texts) + ")"
        inner = [self.sequence(items, gap=True) for items in rendered if items]
        inner = [part for part in inner if part]
        return _Item(text, "(?:" + "|".join(inner) + ")" if inner else None,
                     optional=any(all(item.optional for item in items) for items in rendered),
                     newline=any(item.newline for items in rendered for item in items))

    def _repeat(self, value: tuple[int, int, Any], flags: int) -> _Item | None:
        low, high, sub = value
        body = self._group(list(sub), flags)
        if body is None or high == 0:
            return None
        unbounded = high is sre.MAXREPEAT or high >= 1000
        if body.text.endswith("]+") and _is_atom(body.text[:-1]):
            # A run of a wide class: any count of its bytes, at least `low`.
            atom = body.text[:-1]
            unbounded = True
        else:
            atom = body.text if _is_atom(body.text) else f"(?:{body.text})"
        count = ("*" if low == 0 else "+" if low == 1 else f"{{{low},}}") if unbounded \
            else ("?" if (low, high) == (0, 1) else f"{{{low},{high}}}")
        text = atom + count
        absorbs = unbounded and body.text in (_ANY_LINE_CHAR, _ANY_CHAR)
        optional = low == 0 or body.optional
        if absorbs:
            return _Item(text, absorbs=True, optional=optional)
        gaps: list[str] = []
        if body.inner_gap:
            gaps.append(body.inner_gap)
        if unbounded or high > 1:
            gaps.append(atom + _GAP + atom)  # a gap between two repetitions
        if not gaps:
            return _Item(text, optional=optional, newline=body.newline)
        inner = "(?:" + "|".join(gaps) + ")"
        # Several repetitions around the one holding the gap (a superset of the counts).
        return _Item(text, f"{atom}*{inner}{atom}*" if unbounded or high > 1 else inner,
                     optional=optional, newline=body.newline)


def _join_runs(items: list[_Item]) -> list[_Item]:
    """Runs of single characters (a literal like `"GET `) as one item with two gapped forms
    instead of one per split point, which would leave short, frequent pieces to look for (a
    scan several times slower for a handful of extra candidate lines)."""
    joined: list[_Item] = []
    run: list[_Item] = []
    for item in [*items, None]:
        if item is not None and item.inner_gap is None and not (
                item.absorbs or item.optional or item.newline):
            run.append(item)
            continue
        if len(run) > 1:
            joined.append(_Item("".join(part.text for part in run), _run_gap(run)))
        else:
            joined.extend(run)
        run = []
        if item is not None:
            joined.append(item)
    return joined


def _simplified(variant: str) -> str:
    """A top-level alternative without what costs the scan work but selects no line: one
    character between two stretches of any text, any text at the start, and the repeat of
    a final class (its first character ends the first match already)."""
    while (shorter := _LONE_CHAR.sub(lambda _: _GAP, variant)) != variant:
        variant = shorter
    variant = _TRAILING_RUN.sub(r"\1", variant, count=1)
    return _LEADING_ANY_TEXT.sub("", variant, count=1) or variant


def _widest(alternatives: list[str]) -> list[str]:
    """The alternatives without those that end with another one (`X` then `B` can only match
    where `B` does: the longer one selects no extra line)."""
    return [alternative for alternative in alternatives
            if not any(other != alternative and alternative.endswith(other)
                       and _is_concatenation(alternative, len(alternative) - len(other))
                       for other in alternatives)]


def _is_concatenation(text: str, cut: int) -> bool:
    """Whether the regex `text` is the regex before `cut` followed by the one after it."""
    try:
        whole, head, tail = (sre_parse.parse(part) for part in (text, text[:cut], text[cut:]))
    except re.error:
        return False
    return bool(_shape(whole) == _shape(head) + _shape(tail))


def _shape(node: Any) -> Any:
    """A parsed regex as nested tuples (parsed sub-patterns compare by identity)."""
    if isinstance(node, (list, tuple, sre_parse.SubPattern)):
        return tuple(_shape(part) for part in node)
    return node


def _run_gap(run: list[_Item]) -> str:
    """A run of characters with a gap inside: its first character, any text, its last; for a
    long run, two forms that each keep half of it (a gap after position i >= half keeps
    the first half whole, one before it keeps the rest from half - 1 whole)."""
    texts = [part.text for part in run]
    if len(run) < MIN_SPLIT_RUN:
        return texts[0] + _GAP + texts[-1]
    half = (len(run) + 1) // 2
    return _alternation(["".join(texts[:half]) + _GAP + texts[-1],
                         texts[0] + _GAP + "".join(texts[half - 1:])])


def _alternation(variants: list[str]) -> str:
    return variants[0] if len(variants) == 1 else "(?:" + "|".join(variants) + ")"


def _is_atom(text: str) -> bool:
    """Whether a quantifier may follow `text` without parentheses."""
    if text.startswith("[") and text.endswith("]") and text.count("[") == 1:
        return True
    return len(text) == 1 or (text.startswith("\\x") and len(text) == 4)


@functools.lru_cache(maxsize=4096)
def _single(node: tuple[Any, Any], flags: int) -> re.Pattern[str]:
    state = sre_parse.State()
    state.flags = flags
    compiled: re.Pattern[str] = sre_compile.compile(sre_parse.SubPattern(state, [node]), flags)
    return compiled


def char_members(node: tuple[Any, Any], flags: int) -> tuple[list[int], bool]:
    """The ASCII codes one parsed single-character node (literal, class, `.`) matches under
    `flags`, and whether it may also match a non-ASCII character."""
    pattern = _single(_hashable(node), flags)
    members = [code for code in range(128) if pattern.fullmatch(chr(code))]
    wide = _may_be_non_ascii(node, flags) or any(pattern.fullmatch(c) for c in _FOLDS_TO_ASCII)
    return members, wide


def _char_class(node: tuple[Any, Any], flags: int) -> tuple[str, bool]:
    """Bytes for one Python character: its ASCII members, or any non-ASCII run; and whether
    it may be the newline."""
    members, wide = char_members(node, flags)
    if 10 in members:
        # The newline fail2ban appends may stand where the file has "\r\n" (it strips "\r").
        return _byte_class(sorted({*members, 13, *(range(128, 256) if wide else ())})) + "+", True
    if not wide:
        if not members:
            raise Unsupported("a character class that matches nothing")
        return _byte_class(members), False
    # A non-ASCII character is a run of bytes >= 0x80 in the line: one or more of them.
    return _byte_class(members + list(range(128, 256))) + "+", False


def _hashable(node: Any) -> Any:
    if isinstance(node, (list, tuple)):
        return tuple(_hashable(part) for part in node)
    return node


def _may_be_non_ascii(node: tuple[Any, Any], flags: int) -> bool:
    op, value = node
    if op in (sre.ANY, sre.NOT_LITERAL):
        return True
    if op is sre.LITERAL:
        return bool(value >= 128)
    for item_op, item in value:  # IN
        if item_op is sre.NEGATE or (item_op is sre.LITERAL and item >= 128):
            return True
        if item_op is sre.RANGE and item[1] >= 128:
            return True
        if item_op is sre.CATEGORY and not (
                flags & re.ASCII and item in (sre.CATEGORY_DIGIT, sre.CATEGORY_WORD,
                                              sre.CATEGORY_SPACE)):
            return True
    return False


def _byte_class(codes: list[int]) -> str:
    if len(codes) == 1:
        return _escape(codes[0])
    ranges: list[str] = []
    start = previous = codes[0]
    for code in codes[1:] + [-1]:
        if code == previous + 1:
            previous = code
            continue
        ranges.append(_escape(start) if start == previous
                      else f"{_escape(start)}-{_escape(previous)}")
        start = previous = code
    return "[" + "".join(ranges) + "]"


def _escape(code: int) -> str:
    char = chr(code)
    return char if char.isascii() and char.isalnum() else f"\\x{code:02x}"


_ANY_LINE_CHAR = _byte_class([c for c in range(256) if c != 10]) + "+"
# One character between two stretches of any text adds nothing a scan can use, only work.
_ANY_TEXT = "(?:" + re.escape(_GAP) + "|" + re.escape(_ANY_LINE_CHAR[:-1] + "*") + ")"
_LEADING_ANY_TEXT = re.compile("^" + _ANY_TEXT)
_TRAILING_RUN = re.compile(r"(\[[^\[\]]*\])\+$")
_LONE_CHAR = re.compile(_ANY_TEXT + r"(?:\\x(?!0a)[0-9a-f]{2}|[0-9A-Za-z])" + _ANY_TEXT)
_ANY_CHAR = _byte_class(list(range(256))) + "+"
