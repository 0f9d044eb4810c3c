"""fail2ban's filter state machine: lines in, failures out, with multi-line and mlfid tickets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from floodwall.clock import Clock, SystemClock
from floodwall.errors import ConfigError
from floodwall.matching.fail2ban.dates import DateDetector
from floodwall.matching.fail2ban.firstchars import leading_chars
from floodwall.matching.fail2ban.hosts import canonical_host
from floodwall.matching.fail2ban.prefilter import LinePrefilter, Unsupported
from floodwall.matching.fail2ban.prefilter import build as build_prefilter
from floodwall.matching.fail2ban.regex import TaggedRegex
from floodwall.matching.fail2ban.tickets import Ticket, TicketCache
from floodwall.settings.filters import FilterDefinition

RECENT_DATE_SECONDS = 60
"""A line without a date inherits the last date seen if that is at most this old."""
PROBE_BYTES = 256 << 10
"""How much of the first buffer decides whether the prefilter pays."""
SMALL_LOG_BYTES = 256 << 10
"""A whole log below this size is read without a prefilter (see Fail2banFilter.prepare)."""
DENSE_CANDIDATES = 0.2
"""Above this share of candidate lines, per-line matching is faster than scan + match."""

# One buffered line: (the text regexes see, i.e. the line without its date; the whole line).
Entry = tuple[str, str]

_NOFAIL, _FORGET, _STATE_KNOWN, _GAINED = 1, 2, 4, 8


@dataclass(slots=True)  # not frozen: built for every failure, and frozen init is 3x slower
class FilterFailure:
    """A failure as fail2ban's filter reports it for one line."""

    lineno: int
    """Line whose processing produced the failure."""
    host: str | None
    """Failure id: canonical address, or raw text (host name, <F-ID> value)."""
    time: float | None
    """Unix time of the line, None when it has no date."""
    attempts: int
    """Log lines attached to the failure (grows over an mlfid ticket)."""
    fields: Mapping[str, object]
    """Named groups (merged over an mlfid ticket; `users` lists distinct users)."""
    regex_index: int
    """Which failregex matched."""
    lines: tuple[str, ...]
    """The log lines attached, as evidence (empty when the filter does not keep them)."""

    def to_json(self) -> dict[str, Any]:
        """The object `floodwall regex --json` prints for this failure."""
        return {"lineno": self.lineno, "match": True, "host": self.host, "time": self.time,
                "attempts": self.attempts, "fields": dict(self.fields)}


@dataclass(slots=True)
class FilterStats:
    """Counters for a `regex` report."""

    lines: int = 0
    """Lines fed."""
    matched: int = 0
    """Lines that produced at least one failure."""
    ignored: int = 0
    """Matches cancelled by an ignoreregex."""
    failregex_hits: list[int] = field(default_factory=list)
    """Failures produced by each failregex."""
    ignoreregex_hits: list[int] = field(default_factory=list)
    """Matches of each ignoreregex."""
    reread_ranges: int = 0
    """Ranges of a parallel run that a worker read from a state other than the true one, so
    they were read again in order (see logrun)."""


@dataclass(slots=True)
class CarriedState:
    """A single-line filter's memory of earlier lines: equal states give equal results on
    the lines that follow."""

    tickets: list[Ticket]
    """Open <F-MLFID> tickets, oldest first."""
    last_date: float | None
    """The last date read (lines without one inherit it)."""
    dates: tuple[Any, ...]
    """The date detector's order of templates and where it last found a date."""


def _buffer_text(entries: list[Entry]) -> str:
    return "\n".join(entry[0] for entry in entries) + "\n"


def _split_lines(regex: TaggedRegex, match: re.Match[str],
                 lines: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(lines the match covers, the other lines); <SKIPLINES> lines count as not covered."""
    if len(lines) <= 1:
        return list(lines), []
    text = match.string
    first = text.rfind("\n", 0, match.start() + 1) + 1
    end = text.find("\n", match.end() - 1)
    last = len(text) if end < 0 else end + 1
    begin_line, end_line = text.count("\n", 0, first), text.count("\n", 0, last)
    matched = lines[begin_line:end_line]
    unmatched = lines[:begin_line]
    position = 0
    for skipped in regex.skipped_lines(match):
        for offset, entry in enumerate(matched[position:]):
            if entry[0] == skipped:
                unmatched.append(matched.pop(position + offset))
                position += offset
                break
    unmatched.extend(lines[end_line:])
    return matched, unmatched


class Fail2banFilter:
    """A fail2ban filter file run as fail2ban runs it; feed it lines, get failures.

    Every failregex that can match a line is tried on it (a `^`-anchored one only on text
    starting with a character it can start with), hosts are not resolved, and old dates are
    kept: counting windows are the detection room's business. `feed_buffer` may skip lines
    a Hyperscan prefilter rules out: `prefilter=None` decides on the first buffer whether
    that pays, True always uses it (where exact), False never.

    `check_all` is fail2ban-regex's way (its default): every failregex is tried on a line
    and each match yields its own failure. Without it a line stops at its first matching
    failregex, as in fail2ban's server: the first failure found, an ignoreregex match, or
    a connection ticket that is not (yet) a failure ends the line.
    """

    def __init__(self, definition: FilterDefinition, *, journal: bool | None = None,
                 logtimezone: str | None = None, use_dns: bool = True,
                 clock: Clock | None = None, prefilter: bool | None = None,
                 check_all: bool = True) -> None:
        self.definition = definition
        """The resolved filter (read by config.fail2ban_filters, or a jail's own failregex)."""
        path = definition.path
        self.check_all = check_all
        """Try every failregex on each line (fail2ban-regex), not only up to the first match."""
        self.keep_lines = True
        """Failures carry their log lines (FilterFailure.lines); False leaves them empty
        (faster, and workers of a parallel run send less)."""
        self.journal = (definition.options.get("logtype") == "journal") if journal is None \
            else journal
        """Journal mode: lines carry no date; the message is the whole line (by default when
        the filter was given `logtype=journal`)."""
        self._clock = clock or SystemClock()
        multiline = definition.maxlines > 1
        self.prefregex = (TaggedRegex.compile(definition.prefregex, use_dns=use_dns, where=path)
                          if definition.prefregex else None)
        self.failregexes = [TaggedRegex.compile(source, multiline=multiline, use_dns=use_dns,
                                                where=path) for source in definition.failregex]
        for regex in self.failregexes:
            prefix_has_id = self.prefregex is not None and self.prefregex.has_failure_id()
            if not regex.has_failure_id() and not prefix_has_id:
                raise ConfigError(f"failregex {regex.source!r} captures no failure id; add <HOST>, "
                                  f"<ADDR>, <F-ID> or <F-MLFID>", path=path, key="failregex")
        self.ignoreregexes = [TaggedRegex.compile(source, use_dns=use_dns, where=path)
                              for source in definition.ignoreregex]
        # Until the first-character index is built every failregex is tried; building it
        # parses each regex again, which only pays on logs longer than a few lines.
        self._by_first: dict[str, tuple[int, ...]] = {}
        self._any_start = tuple(range(len(self.failregexes)))
        self._index_in = 0 if multiline else FIRST_CHAR_INDEX_AFTER
        try:
            self.dates = DateDetector(definition.datepattern, logtimezone)
        except ConfigError as error:
            raise ConfigError(str(error), path=path, key="datepattern") from None
        self.stats = FilterStats(failregex_hits=[0] * len(self.failregexes),
                                 ignoreregex_hits=[0] * len(self.ignoreregexes))
        self._maxlines = definition.maxlines
        self._early_ignore = 0 < len(self.ignoreregexes) < len(self.failregexes) - 2
        self._buffer: list[Entry] = []
        self._last_date: float | None = None
        self.tickets = TicketCache(self._clock)
        """Open <F-MLFID> tickets (connections) of this filter."""
        self._prefilter: LinePrefilter | None = None
        self._prefilter_built = prefilter is False  # False: never; True: whenever possible
        self._prefilter_probe = prefilter is None
        self._settled = False  # set by _failure: the match settled the line without a failure

    def feed(self, line: str, lineno: int, when: float | None = None) -> list[FilterFailure]:
        """Process one log line (without its newline); the failures it completes. In journal
        mode the line's time is `when` (the entry's), else now."""
        self.stats.lines += 1
        if self.journal:
            now = self._clock.now() if when is None else when
            self._last_date = now
            failures = self._find((line, line), now, lineno)
        else:
            entry, date = self._split_date(line)
            failures = self._find(entry, date, lineno)
        if failures:
            self.stats.matched += 1
        return failures

    def abandon_line(self) -> None:
        """The line being fed was interrupted: forget the lines held for multi-line matching,
        so the next line does not search it again."""
        self._buffer = []

    def patterns(self) -> list[tuple[str, str, re.Pattern[str]]]:
        """(option, the regex as written, compiled) of every regex the filter applies to a
        line, the date templates it has used so far included."""
        tagged = ([("prefregex", self.prefregex)] if self.prefregex is not None else []) + [
            ("failregex", regex) for regex in self.failregexes] + [
            ("ignoreregex", regex) for regex in self.ignoreregexes]
        found = [(option, regex.source, regex.pattern) for option, regex in tagged]
        found += [("datepattern", template.pattern or template.name, template.compiled)
                  for template in self.dates.templates if template.is_compiled]
        return found

    def feed_buffer(self, buffer: bytes, first_lineno: int) -> list[FilterFailure]:
        """Process whole lines at once (`buffer` ends at a line end, or at the end of the log).

        Same failures and line counts as `feed` on each line (decoded as UTF-8, undecodable
        bytes as U+FFFD, trailing CR/LF stripped); single-line filters only examine the lines
        a Hyperscan prefilter flags. Date statistics count the examined lines.
        """
        prefilter = self._line_prefilter(buffer)
        if prefilter is None:
            failures = []
            # One decode per buffer: a newline byte never belongs to a UTF-8 sequence, so
            # this equals decoding line by line.
            lines = buffer.decode("utf-8", "replace").split("\n")
            if lines[-1] == "":
                lines.pop()
            feed = self.feed
            for lineno, line in enumerate(lines, first_lineno):
                failures += feed(line.rstrip("\r"), lineno)
            return failures
        scanned = buffer if buffer.endswith(b"\n") or not buffer else buffer + b"\n"
        failures = []
        lineno, position = first_lineno, 0
        find, count = scanned.find, scanned.count
        for start in prefilter.line_starts(scanned):
            lineno += count(b"\n", position, start)
            position = start
            line = scanned[start:find(b"\n", start)].decode("utf-8", "replace").rstrip("\r")
            failures += self.feed(line, lineno)
            self.stats.lines -= 1  # counted below with the lines skipped
        self.stats.lines += lineno - first_lineno + count(b"\n", position)
        return failures

    def carried_state(self) -> CarriedState:
        """What one line leaves for the next that can change a later result (a copy)."""
        return CarriedState(self.tickets.snapshot(), self._last_date, self.dates.carried_state())

    def adopt(self, state: CarriedState) -> None:
        """Continue from `state` (another filter's, of the same file), as if this filter had
        read the lines that one read."""
        self.tickets.adopt(state.tickets)
        self._last_date = state.last_date
        self.dates.adopt(state.dates)

    def prepare(self, sample: bytes, log_size: int | None = None) -> None:
        """Decide on `sample` (the log's first bytes) whether the prefilter pays, and build it
        now: worker processes forked afterwards inherit it instead of each building one. A
        whole log smaller than SMALL_LOG_BYTES is read line by line (unless the prefilter was
        asked for): that is faster than building the prefilter."""
        if (self._prefilter_probe and not self._prefilter_built and log_size is not None
                and log_size < SMALL_LOG_BYTES):
            self._prefilter_built = True
            return
        self._line_prefilter(sample)

    def _line_prefilter(self, sample: bytes) -> LinePrefilter | None:
        """The filter's Hyperscan prefilter, built on first use; None when lines must all be
        examined: multi-line filters, regexes that may match nearly anything, or logs (judged
        on the first `sample`) where most lines are candidates, so the scan would not pay."""
        if self._prefilter_built:
            return self._prefilter
        self._prefilter_built = True
        if self._maxlines == 1:
            try:
                prefilter = build_prefilter(
                    [regex.pattern.pattern for regex in self.failregexes],
                    date_gap=not self.journal)
            except Unsupported:
                return None
            probe = sample[:PROBE_BYTES]
            probe = probe[:probe.rfind(b"\n") + 1] or probe
            lines = probe.count(b"\n") or 1
            if (not self._prefilter_probe
                    or len(prefilter.line_starts(probe)) <= DENSE_CANDIDATES * lines):
                self._prefilter = prefilter
        return self._prefilter

    def _split_date(self, line: str) -> tuple[Entry, float | None]:
        """The line without its date, and the date (or the last recent one, or none)."""
        now = self._clock.now()
        found = self.dates.find(line)
        date: float | None = None
        text = line
        if found is not None:
            text = line[:found.start] + line[found.end:]
            if found.start != found.end:
                date = self.dates.to_time(found, now)
                if date is not None:
                    self._last_date = date
            elif self._last_date is not None and self._last_date > now - RECENT_DATE_SECONDS:
                text, date = line, self._last_date
            else:
                date = now
        if (date is None and self._last_date is not None
                and self._last_date > now - RECENT_DATE_SECONDS):
            text, date = line, self._last_date
        return (text, line), date

    # Over the complexity limit on purpose: the per-line hot path, kept in one frame for
    # speed (see bench/RESULTS.md).
    def _find(  # noqa: C901
            self, entry: Entry, date: float | None, lineno: int) -> list[FilterFailure]:
        if self._maxlines > 1:
            self._buffer.append(entry)
            original = self._buffer = self._buffer[-self._maxlines:]
            full_text = _buffer_text(original)
        else:
            original = self._buffer = [entry]
            full_text = entry[0] + "\n"
        if self._early_ignore and self._ignored(full_text, None):
            return []
        text: str | None = full_text
        pre_groups: dict[str, Any] = {}
        if self.prefregex is not None:
            pre_match = self.prefregex.pattern.search(full_text)
            if pre_match is None:
                return []
            pre_groups = self.prefregex.groups(pre_match)
            content = pre_groups.pop("content", None)
            if content:
                content = str(content)
                self._buffer, text = [(content, content)], content + "\n"
        failures: list[FilterFailure] = []
        regexes = self.failregexes
        if self._index_in:
            self._index_in -= 1
            if not self._index_in:
                self._by_first, self._any_start = _first_char_index(regexes)
        leading = text[:1] if text is not None else ""
        for index in self._by_first.get(leading, self._any_start):
            regex = regexes[index]
            if text is None:
                text = _buffer_text(self._buffer)
            match = regex.pattern.search(text)
            if match is None:
                continue
            matched, unmatched = (_split_lines(regex, match, original) if self._maxlines > 1
                                  else (original, []))
            fail = regex.groups(match)
            if self.ignoreregexes and self._ignored(text, (matched, unmatched)):
                if not self.check_all:
                    break
                text = None
                continue
            if self._maxlines > 1:
                self._buffer, text = unmatched, None
            if pre_groups:
                fail = {**pre_groups, **fail}
            failure = self._failure(index, regex, fail, matched, date, lineno)
            if failure is not None:
                self.stats.failregex_hits[index] += 1
                failures.append(failure)
                if not self.check_all:
                    break
            elif not self.check_all and self._settled:
                break  # a ticket waiting for its failure (or for an id), or not a failure
        return failures

    def _ignored(self, text: str, split: tuple[list[Entry], list[Entry]] | None) -> bool:
        """Whether an ignoreregex matches (the failregex's lines only, when multi-line)."""
        if split is not None and self._maxlines > 1:
            text = _buffer_text(split[0])
        hit = False
        for index, regex in enumerate(self.ignoreregexes):
            if regex.pattern.search(text):
                hit = True
                self.stats.ignoreregex_hits[index] += 1
                if split is not None and self._maxlines > 1:
                    self._buffer = split[1]
        if hit:
            self.stats.ignored += 1
        return hit

    def _failure(self, index: int, regex: TaggedRegex, fail: dict[str, Any],
                 matched: list[Entry], date: float | None, lineno: int) -> FilterFailure | None:
        """The failure for one failregex match, or None: no failure id in this match, or
        (`_settled` set) a ticket waiting for its id or a match that is not a failure."""
        self._settled = False
        mlfid = fail.get("mlfid")
        if mlfid is not None:
            fail = self._merge_ticket(str(mlfid), fail, matched)
        else:
            fail["matches"] = list(fail.get("matches") or []) + matched
        fid = fail.get("fid")
        host: object = None
        family = None
        for group, group_family in (("ip4", 4), ("ip6", 6), ("dns", None)):
            if fail.get(group) is not None:
                host, family = fail[group], group_family
                break
        if host is None:
            if fid is None and mlfid is None:
                return None  # no failure id in this match
            host = fid
        if host is None:
            fail["mlfpending"] = 1
            self._settled = True
            return None
        nofail = fail.get("nofail")
        if nofail and (fid is None or fid == host):
            self._settled = True  # (below, the same, after the ticket learns its "ip")
            return None
        prefix = fail.get("cidr")
        canonical = canonical_host(str(host), family, int(str(prefix)) if prefix else None) \
            if family else str(host)
        if fid is not None and fid != host:
            fail["ip"] = canonical
            canonical = str(fid)
        if nofail:
            self._settled = True
            return None
        matches: list[Entry] = fail.get("matches") or []
        return FilterFailure(lineno, canonical, date, len(matches), _public_fields(fail), index,
                             tuple([entry[1] for entry in matches]) if self.keep_lines else ())

    # Over the complexity limit on purpose: one branch per rule of fail2ban's ticket
    # merging, in its order.
    def _merge_ticket(self, mlfid: str, fail: dict[str, Any],  # noqa: C901
                      matched: list[Entry]) -> dict[str, Any]:
        """Merge a match into the multi-line ticket of its <F-MLFID> (a connection id).

        Returns the ticket itself when one is cached, so later marks (pending) stick to it.
        """
        cached = self.tickets.get(mlfid)
        users: set[Any] | None = None
        flags = 0
        if fail.get("mlfgained"):
            flags |= _GAINED | _NOFAIL
            if not fail.get("nofail"):
                fail["nofail"] = fail["mlfgained"]
        elif fail.get("nofail"):
            flags |= _NOFAIL
        if fail.pop("mlfforget", None):
            flags |= _FORGET
        if cached is not None:
            users = _add_user(cached, fail.get("user"))
            if cached.pop("nofail", None):
                flags |= _STATE_KNOWN
            if cached.pop("mlfgained", None):
                flags |= _STATE_KNOWN
            if flags & _GAINED:
                cached.pop("mlfpending", None)
            if not flags & _STATE_KNOWN and not cached.get("mlfpending", 0):
                cached.pop("matches", None)  # already reported with an earlier failure
            cached.update({key: value for key, value in fail.items() if value is not None})
            fail = cached
            if flags & _FORGET:
                self.tickets.discard(mlfid)
        elif not flags & _FORGET:
            users = _add_user(fail, fail.get("user"))
            self.tickets.set(mlfid, fail)
        if fail.pop("mlfpending", 0) or (users and len(users) > 1):
            # pending failures or a second user: this is a failure after all
            fail.pop("nofail", None)
            fail.pop("mlfgained", None)
            flags &= ~(_GAINED | _NOFAIL)
        if not flags & _NOFAIL:
            lines: list[Entry] = fail.pop("nofail-matches", None) or []
            lines = lines + list(fail.get("matches") or [])
            if not flags & _GAINED:
                lines = lines + matched
            fail["matches"] = lines
        elif flags & (_NOFAIL | _FORGET) == _NOFAIL:
            fail["nofail-matches"] = list(fail.get("nofail-matches") or []) + matched
        return fail


FIRST_CHAR_INDEX_AFTER = 200
"""Lines matched against the failregexes before their first-character index is built."""


def _first_char_index(regexes: list[TaggedRegex]
                      ) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """Which failregexes (indexes, in order) may match a text starting with each character,
    and those that may match whatever the text starts with."""
    sets = [leading_chars(regex.pattern) for regex in regexes]
    any_start = tuple(index for index, chars in enumerate(sets) if chars is None)
    by_first = {char: tuple(index for index, chars in enumerate(sets)
                            if chars is None or char in chars)
                for chars in sets if chars for char in chars}
    return by_first, any_start


def _add_user(ticket: dict[str, Any], user: Any) -> set[Any] | None:
    """Remember `user` in the ticket's set of users; the set (or None if it has none)."""
    users = ticket.get("users")
    if user:
        if not users:
            users = set()
            ticket["users"] = users
        users.add(user)
    return users


def _public_fields(fail: Mapping[str, object]) -> dict[str, Any]:
    """The failure's named data, JSON-ready (sets and tuples become lists)."""
    fields: dict[str, Any] = {}
    for key, value in fail.items():
        if key in ("matches", "nofail-matches"):
            continue
        if isinstance(value, set):
            value = sorted(value, key=str)
        elif isinstance(value, tuple):
            value = list(value)
        fields[key] = value
    return fields
