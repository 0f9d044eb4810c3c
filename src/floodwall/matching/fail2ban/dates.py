"""Date templates and the date detector: which part of a line is its time, and what time."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from floodwall.errors import ConfigError
from floodwall.matching.fail2ban.strptime import (
    completes_from_now,
    expand_directives,
    fields_to_time,
    zone_offset,
)

LINE_BEGIN = 8
LINE_END = 4
WORD_BEGIN = 2
WORD_END = 1
ANCHORED = LINE_BEGIN | LINE_END
UNUSED_SECONDS = 300
"""A template unused this long may be displaced by one that is used."""
TIME_CACHE_SIZE = 4096
"""Converted dates remembered per detector (lines of one second share their date)."""

# Syntax of date patterns (fail2ban's): `{^LN-BEG}` anchors at line start, `{UNB}` drops word
# boundaries, `**` at either end drops that boundary, `{DATE}` stands for every default template.
_UNBOUND = re.compile(r"^\{UNB\}")
_LINE_BEGIN_MARK = re.compile(r"^\{\^LN-BEG\}")
_START_BOUND = re.compile(r"^\((?:\?:)?\^\|\\b\|\\W\)")
_END_BOUND = re.compile(r"\(\?=\\b\|\\W\|\$\)$")
_DATE_PLACEHOLDER = re.compile(r"(?<!\\)\{DATE\}", re.IGNORECASE)
_EPOCH_PLACEHOLDER = re.compile(r"(?<!\\)\{L?EPOCH\}", re.IGNORECASE)
_GLOBAL_FLAGS = re.compile(r"((?:^|(?!<\\))\(\?[a-z]+\))")
_NO_WORD_BOUND_BEGIN = re.compile(r"^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)")
_NO_WORD_BOUND_END = re.compile(r"(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$")
_CAPTURING_GROUP = re.compile(r"(?<!(?:\(\?))(?<!\\)\((?!\?)")
_WRAP_IN_GROUP = re.compile(r"^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$")
_STARTS_AT_LINE_BEGIN = re.compile(r"^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))")
_ENDS_AT_LINE_END = re.compile(r"(?<![\\\|])(?:\$\)?)$")
_NO_BOUND_MARKS = re.compile(r"^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$")

_EPOCH = r"\d{10,11}\b(?:\.\d{3,6})?"
_LONG_EPOCH = r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?"


class Kind(enum.Enum):
    """How a template's matched text becomes a time."""

    FIELDS = "fields"
    EPOCH = "epoch"
    LONG_EPOCH = "long-epoch"
    TAI64N = "tai64n"


@dataclass(frozen=True, slots=True)
class DateTemplate:
    """One way of finding a date in a line: a regex whose group 1 is the date text."""

    name: str
    """Human name (directives spelled out), unique within a detector."""
    regex: str
    """The full regex, boundaries included."""
    flags: int
    """LINE_BEGIN / LINE_END / WORD_BEGIN / WORD_END."""
    kind: Kind
    """How to convert the match."""
    pattern: str | None = None
    """The date pattern it was built from (None for built-in epoch/TAI64N templates)."""
    value_group: int = 1
    """Group holding the number for epoch templates."""
    weight: float = 1.0
    """Preference when templates are reordered by use."""
    _compiled: re.Pattern[str] | None = dataclasses.field(
        init=False, default=None, compare=False, repr=False)
    _minute_groups: tuple[str, ...] = dataclasses.field(
        init=False, default=(), compare=False, repr=False)

    @property
    def is_compiled(self) -> bool:
        """Whether the regex has been compiled (some line was searched with it)."""
        return self._compiled is not None

    @property
    def compiled(self) -> re.Pattern[str]:
        """The regex, compiled on first use (as fail2ban does: most of the default templates
        never meet a line of a given log); ConfigError if it is not a valid regex."""
        compiled = self._compiled
        if compiled is None:
            try:
                compiled = re.compile(self.regex)
            except re.error as error:
                raise ConfigError(f"date pattern {self.pattern or self.name!r} is not a valid "
                                  f"regex ({error}); fix the pattern") from None
            object.__setattr__(self, "_compiled", compiled)
            object.__setattr__(self, "_minute_groups", tuple(
                name for name in compiled.groupindex if name not in ("S", "f")))
        return compiled

    @property
    def minute_groups(self) -> tuple[str, ...]:
        """Named groups that fix the date's minute (all but seconds and their fraction)."""
        self.compiled  # noqa: B018 - compiles and sets the groups
        return self._minute_groups

    def to_time(self, match: re.Match[str], now: float, default_offset: int | None) -> float:
        """Unix time of a match; ValueError/LookupError when it is not a valid date."""
        if self.kind is Kind.FIELDS:
            return fields_to_time(match.groupdict(), now, default_offset)
        text = match.group(self.value_group)
        if self.kind is Kind.TAI64N:
            return float(int(text[2:17], 16))
        if self.kind is Kind.LONG_EPOCH and len(text) >= 13:
            return float(text) / (1_000_000 if len(text) >= 16 and "." not in text else 1000)
        return float(text)


def _bounded(regex: str, name: str, word_begin: bool | str, word_end: bool) -> tuple[str, str, int]:
    """Add group 1 and word/line boundaries to a template regex: (regex, name, flags)."""
    regex = regex.strip()
    global_flags = _GLOBAL_FLAGS.search(regex)
    if global_flags:
        regex = _GLOBAL_FLAGS.sub("", regex, count=1)
    bound_begin = word_begin and not _NO_WORD_BOUND_BEGIN.search(regex)
    bound_end = word_end and not _NO_WORD_BOUND_END.search(regex)
    if not _CAPTURING_GROUP.search(regex):
        regex = _WRAP_IN_GROUP.sub(r"\1(\2)\3", regex)
    flags = 0
    if bound_begin:
        if word_begin == "start":
            flags |= LINE_BEGIN
            regex = r"^(?:\W{0,2})?" + regex
            if not name.startswith("{^LN-BEG}"):
                name = "{^LN-BEG}" + name
        else:
            flags |= WORD_BEGIN
            regex = r"(?=^|\b|\W)" + regex
    if bound_end:
        flags |= WORD_END
        regex += r"(?=\b|\W|$)"
    if not flags & LINE_BEGIN and _STARTS_AT_LINE_BEGIN.search(regex):
        flags |= LINE_BEGIN
    if not flags & LINE_END and _ENDS_AT_LINE_END.search(regex):
        flags |= LINE_END
    regex = _NO_BOUND_MARKS.sub(lambda m: m.group().replace("**", ""), regex)
    if global_flags:
        regex = global_flags.group(1) + regex
    return regex, name, flags


def pattern_template(pattern: str) -> DateTemplate:
    """A template from a `%`-directive date pattern (a regex with `%Y`, `%b`, `{^LN-BEG}`…)."""
    word_begin: bool | str = True
    word_end = True
    text = pattern
    if _UNBOUND.search(text):
        text = _UNBOUND.sub("", text)
        word_begin = word_end = False
    if word_begin and _LINE_BEGIN_MARK.search(text):
        text = _LINE_BEGIN_MARK.sub("", text)
        word_begin = "start"
    regex, name = expand_directives(text)
    regex, name, flags = _bounded(regex, name, word_begin, word_end)
    return DateTemplate(name, regex, flags, Kind.FIELDS, pattern)


def epoch_template(line_begin: bool = False, long_form: bool = False,
                   pattern: str | None = None) -> DateTemplate:
    """Unix timestamps: at line start, in `[…]`, in `audit(…)`, or where `pattern` puts {EPOCH}."""
    number = _LONG_EPOCH if long_form else _EPOCH
    kind = Kind.LONG_EPOCH if long_form else Kind.EPOCH
    if pattern:
        regex = "(" + _EPOCH_PLACEHOLDER.sub(lambda _: f"({number})", pattern) + ")"
        regex, name, flags = _bounded(regex, pattern, True, True)
        return DateTemplate(name, regex, flags, kind, pattern, value_group=2)
    name = "LongEpoch" if long_form else "Epoch"
    if line_begin:
        regex = rf"((?P<square>(?<=^\[))?{number})(?(square)(?=\]))"
        regex, name, flags = _bounded(regex, name, "start", True)
    else:
        regex = (rf"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))"
                 rf"{number})(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))")
        regex, name, flags = _bounded(regex, name, False, True)
    return DateTemplate(name, regex, flags, kind)


def tai64n_template(line_begin: bool = False) -> DateTemplate:
    """TAI64N labels (`@4000…`, daemontools/s6 logs)."""
    regex, name, flags = _bounded("@[0-9a-f]{24}", "TAI64N", "start" if line_begin else False,
                                  True)
    return DateTemplate(name, regex, flags, Kind.TAI64N)


@functools.lru_cache(maxsize=1024)
def template_for(pattern: str) -> DateTemplate:
    """The template a single date-pattern entry names (EPOCH, TAI64N or a %-pattern); cached."""
    key = pattern if "%" in pattern else pattern.upper()
    if "EPOCH" in key:
        if _EPOCH_PLACEHOLDER.search(pattern):
            return epoch_template(long_form="LEPOCH" in key, pattern=pattern)
        if key in ("EPOCH", "{^LN-BEG}EPOCH", "^EPOCH"):
            return epoch_template(line_begin=key != "EPOCH")
        if key in ("LEPOCH", "{^LN-BEG}LEPOCH", "^LEPOCH"):
            return epoch_template(line_begin=key != "LEPOCH", long_form=True)
    if key in ("TAI64N", "{^LN-BEG}TAI64N", "^TAI64N"):
        return tai64n_template(line_begin=key != "TAI64N")
    return pattern_template(pattern)


def _unbound(pattern: str) -> str:
    for mark in (_UNBOUND, _LINE_BEGIN_MARK, _START_BOUND):
        pattern = mark.sub("", pattern)
    return _END_BOUND.sub("", pattern)


def _placing_date_in(entry: str) -> Callable[[str], str]:
    """A wrapper putting a template's pattern where `entry` says {DATE}."""
    return lambda text: _DATE_PLACEHOLDER.sub(lambda _: _unbound(text), entry)


def _rewrapped(template: DateTemplate, wrap: Callable[[str], str]) -> DateTemplate:
    """The template re-built with its pattern (or, for built-ins, its name) wrapped."""
    return template_for(wrap(template.pattern if template.pattern is not None else template.name))


DEFAULT_PATTERNS = (
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    r"EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"TAI64N",
)
"""fail2ban's default date formats (ISO 8601, syslog, Apache, epoch, TAI64N…), in its order."""


@functools.lru_cache(maxsize=1)
def default_templates() -> tuple[DateTemplate, ...]:
    """The default formats."""
    return tuple(template_for(pattern) for pattern in DEFAULT_PATTERNS)


@functools.lru_cache(maxsize=1)
def default_set() -> tuple[DateTemplate, ...]:
    """Defaults as fail2ban searches them: a line-start anchored (preferred) copy of each
    unanchored one first, then the defaults themselves."""
    anchored: list[DateTemplate] = []
    for template in default_templates():
        if template.name.startswith(("{^LN-BEG}", "^")):
            continue
        copy = _rewrapped(template, lambda text: "{^LN-BEG}" + text)
        if copy.name != template.name:
            anchored.append(dataclasses.replace(copy, weight=100.0))
    return tuple(anchored) + default_templates()


def templates_for(datepattern: str | None) -> list[DateTemplate]:
    """The templates a filter's `datepattern` (one entry a line) asks for; defaults if none."""
    return list(_templates_for(datepattern))


@functools.lru_cache(maxsize=256)
def _templates_for(datepattern: str | None) -> tuple[DateTemplate, ...]:
    """templates_for, cached: templates are frozen and detectors keep their own statistics."""
    entries = [entry.strip() for entry in re.split("\n+", datepattern or "") if entry.strip()]
    chosen: list[DateTemplate] = []
    names: set[str] = set()

    def add(templates: Iterable[DateTemplate], ignore_duplicates: bool) -> None:
        for template in templates:
            if template.name in names:
                if ignore_duplicates:
                    continue
                raise ConfigError(f"date pattern {template.pattern or template.name!r} is "
                                  f"listed twice; remove one")
            names.add(template.name)
            chosen.append(template)

    for entry in entries:
        key = entry if "%" in entry else entry.upper()
        some = bool(chosen)
        if key == "{^LN-BEG}":
            add((t for t in default_set() if t.flags & LINE_BEGIN), some)
        elif key == "{DEFAULT}":
            add(default_set(), some)
        elif "{DATE}" in key:
            wrapped = [_rewrapped(t, _placing_date_in(entry)) for t in default_templates()]
            wrapped[0].compiled  # noqa: B018 - the entry's own regex text is checked now
            add(wrapped, some)
        elif key == "{NONE}":
            add([template_for("{UNB}^")], False)
        else:
            add([template_for(entry)], False)
            chosen[-1].compiled  # noqa: B018 - a filter's own pattern is checked when read
    return tuple(chosen or default_set())


class _Candidate:
    """A template with its use statistics within one detector."""

    __slots__ = ("distance", "hits", "last_used", "template")

    def __init__(self, template: DateTemplate) -> None:
        self.template = template
        self.hits = 0
        self.last_used = 0.0
        self.distance = 0x7FFFFFFF

    @property
    def weight(self) -> float:
        return self.hits * self.template.weight / max(1, self.distance)


@dataclass(slots=True)  # not frozen: built for every line, and frozen init is 3x slower
class DateMatch:
    """Where the date is in a line and the template that found it."""

    start: int
    """Start of the date text."""
    end: int
    """End of the date text."""
    template: DateTemplate
    """The template that matched."""
    match: re.Match[str]
    """The regex match (for conversion)."""


def stable_until(convert: Callable[[float], float | None], now: float) -> float:
    """How long (a `now` before which) `convert`, which completes a date's missing year or
    day from "now" as fail2ban does, gives what it gives at `now`: until the next local
    midnight when it gives the same there. Within one local day the year and the day are
    fixed and each comparison with "now" (a date more than a day ahead belongs to last
    year, a time ahead to yesterday) turns at most once, so equal ends mean no turn between;
    a day with a clock change is not trusted (then only `now` itself: converted again at
    any other)."""
    only_now = math.nextafter(now, math.inf)
    today = datetime.datetime.fromtimestamp(now).date()
    midnight = time.mktime((today + datetime.timedelta(days=1)).timetuple())
    last = midnight - 1.0
    if last <= now or time.localtime(now).tm_isdst != time.localtime(last).tm_isdst:
        return only_now
    return midnight if convert(last) == convert(now) else only_now


class DateDetector:
    """Finds dates with a list of templates, moving the ones that hit towards the front.

    The last winning template is tried first, restricted to where the date was last time;
    a match further into the line than before may be a date inside the message, so the
    search goes on for a match nearer to the line start.
    """

    def __init__(self, datepattern: str | None = None, logtimezone: str | None = None) -> None:
        self._candidates = [_Candidate(t) for t in templates_for(datepattern)]
        self._default_offset = zone_offset(logtimezone) if logtimezone else None
        self._last_index = 0x7FFFFFFF
        self._last_line = ""
        self._last_span = (1, 0x7FFFFFFF)  # where the last template matched in _last_line
        self._first_unused = 0
        # value, and the `now`s [since, until) it holds for (see stable_until)
        self._times: dict[tuple[str, tuple[str | None, ...]],
                          tuple[float | None, float, float]] = {}
        self._minutes: dict[tuple[str | None, ...], tuple[float, float, float]] = {}

    @property
    def templates(self) -> list[DateTemplate]:
        """Templates in their current order of preference."""
        return [candidate.template for candidate in self._candidates]

    def hits(self) -> list[tuple[DateTemplate, int]]:
        """Templates that matched at least once, with how often."""
        return [(c.template, c.hits) for c in self._candidates if c.hits]

    def add_hits(self, hits: dict[str, int]) -> None:
        """Count hits found by another detector of the same templates (a worker's), by
        template name; the order of preference is left as it is."""
        for candidate in self._candidates:
            candidate.hits += hits.get(candidate.template.name, 0)

    def carried_state(self) -> tuple[Any, ...]:
        """What decides where the next dates are looked for and which template wins: the
        templates' order and last match positions, and where the last date was. Hit counts
        are left out: they only weigh promotions between templates that both keep matching."""
        return (tuple((c.template.name, c.distance) for c in self._candidates),
                self._last_index, self._last_span, self._last_line, self._first_unused)

    def adopt(self, state: tuple[Any, ...]) -> None:
        """Take over another detector's carried state (same templates; hits stay ours)."""
        order, self._last_index, self._last_span, self._last_line, self._first_unused = state
        by_name = {candidate.template.name: candidate for candidate in self._candidates}
        self._candidates = [by_name[name] for name, _distance in order]
        for candidate, (_name, distance) in zip(self._candidates, order, strict=False):
            candidate.distance = distance

    def find(self, line: str) -> DateMatch | None:
        """Locate the date in `line` (or None), updating the template order."""
        found = self._search(line)
        if found is None:
            return None
        match, index = found
        template = self._candidates[index].template
        self._record(line, match, index)
        return DateMatch(match.start(1), match.end(1), template, match)

    def to_time(self, found: DateMatch, now: float) -> float | None:
        """Unix time of a found date, None if the text is not a valid date."""
        # Consecutive lines share their date text: convert each text once (while `now`
        # stays where the completion of a missing year or day from it gives the same).
        key = (found.template.name, found.match.groups())
        cached = self._times.get(key)
        if cached is not None and cached[1] <= now < cached[2]:
            return cached[0]
        value, since, until = self._convert(found, now)
        if len(self._times) >= TIME_CACHE_SIZE:
            self._times.clear()
        self._times[key] = (value, since, until)
        return value

    def _convert(self, found: DateMatch, now: float) -> tuple[float | None, float, float]:
        """(Unix time or None, and the `now`s [since, until) that give the same)."""
        template = found.template
        only_now = (now, math.nextafter(now, math.inf))
        try:
            if template.kind is not Kind.FIELDS:
                return (template.to_time(found.match, now, self._default_offset), *only_now)
            match = found.match
            second = match["S"] if "S" in template.compiled.groupindex else None
            if second is not None and second.isdigit() and int(second) < 60:
                minute = self._minute_start(template, match, now)
                if minute is not None:
                    return minute[0] + int(second), minute[1], minute[2]
            fields = match.groupdict()
            if not completes_from_now(fields):
                return fields_to_time(fields, now, self._default_offset), -math.inf, math.inf
            return (fields_to_time(fields, now, self._default_offset), *only_now)
        except (ValueError, LookupError, OverflowError):
            return (None, *only_now)  # an invalid day may be valid in another year

    def _minute_start(self, template: DateTemplate, match: re.Match[str],
                      now: float) -> tuple[float, float, float] | None:
        """Unix time of second 0 of the date's minute, when every second of that minute
        converts to it plus the second (no completion from `now` cuts through it), and the
        `now`s [since, until) for which that holds; cached."""
        key = (template.name, *(match.group(*template.minute_groups)
                                if len(template.minute_groups) > 1
                                else [match[name] for name in template.minute_groups]))
        cached = self._minutes.get(key)
        if cached is not None and cached[1] <= now < cached[2]:
            return cached
        fields = match.groupdict()
        first, last = {**fields, "S": "00"}, {**fields, "S": "59"}
        offset = self._default_offset

        def minute_start(at: float) -> float | None:
            start = fields_to_time(first, at, offset)
            return start if fields_to_time(last, at, offset) - start == 59 else None

        start = minute_start(now)
        if start is None:
            return None
        since, until = ((-math.inf, math.inf) if not completes_from_now(fields)
                        else (now, stable_until(minute_start, now)))
        if len(self._minutes) >= TIME_CACHE_SIZE:
            self._minutes.clear()
        entry = self._minutes[key] = (start, since, until)
        return entry

    def _search(self, line: str) -> tuple[re.Match[str], int] | None:
        candidates = self._candidates
        skip = 0x7FFFFFFF
        reserve: tuple[re.Match[str], int] | None = None
        index = self._last_index
        if index < len(candidates):
            template = candidates[index].template
            match: re.Match[str] | None
            if template.flags & ANCHORED:
                match = template.compiled.search(line)
                skip = index
            elif self._same_boundaries(line):
                match = template.compiled.search(line, *self._last_span)
            else:
                match = template.compiled.search(line)
                skip = index
            if match:
                if (len(candidates) == 1 or template.flags & ANCHORED
                        or match.span() == self._last_span):
                    return match, index
                reserve = (match, index)
        for index, candidate in enumerate(candidates):
            if index == skip:
                continue
            match = candidate.template.compiled.search(line)
            if not match:
                continue
            if index + 1 >= len(candidates) or candidate.template.flags & ANCHORED:
                return match, index
            start = match.start()
            if start > candidate.distance or start > self._last_span[0]:
                # Further into the line than usual: maybe a date in the message; keep looking.
                if reserve is None or start < reserve[0].start():
                    reserve = (match, index)
                continue
            return match, index
        return reserve

    def _same_boundaries(self, line: str) -> bool:
        previous = self._last_line
        start, end = self._last_span
        before, at = previous[start - 1:start], previous[start:start + 1]
        last, after = previous[end - 1] if previous else "", previous[end:end + 1]
        starts_alike = line[start - 1:start] == before or (
            line[start:start + 1] == at and not at.isalnum())
        return starts_alike and (line[end:end + 1] == after or (
            line[end - 1:end] == last and not last.isalnum()))

    def _record(self, line: str, match: re.Match[str], index: int) -> None:
        candidate = self._candidates[index]
        span = match.span()
        candidate.hits += 1
        candidate.last_used = time.time()
        candidate.distance = span[0]
        if self._first_unused == index:
            self._first_unused += 1
        self._last_line, self._last_span = line, span
        if index and index != self._last_index:
            index = self._promote(index)
        self._last_index = index

    def _promote(self, index: int) -> int:
        """Move a winning template forward when it outweighs (or outlived) the one it passes."""
        candidates = self._candidates
        candidate = candidates[index]
        stale_before = candidate.last_used - UNUSED_SECONDS
        weight = candidate.weight

        def may_pass(position: int) -> bool:
            other = candidates[position]
            return weight > other.weight or stale_before > other.last_used

        target = self._first_unused if self._first_unused < index else index // 2
        if not may_pass(target):
            if target == index - 1:
                return index
            target = index - 1
            if not may_pass(target):
                return index
        del candidates[index]
        candidates.insert(target, candidate)
        while self._first_unused < len(candidates) and candidates[self._first_unused].hits:
            self._first_unused += 1
        return target
