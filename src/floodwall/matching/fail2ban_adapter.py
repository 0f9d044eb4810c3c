"""A fail2ban filter as a jail's LineFilter: which lines fail is fail2ban's call, the key ours."""

from __future__ import annotations

from floodwall.addresses import normalise_address
from floodwall.clock import Clock
from floodwall.matching.deadline import LineDeadline, LineTimeout, SlowLines
from floodwall.matching.entries import Entry
from floodwall.matching.fail2ban.engine import Fail2banFilter
from floodwall.matching.filters import Requirement
from floodwall.matching.prefilter import Condition
from floodwall.model import Failure
from floodwall.settings.filters import FilterDefinition
from floodwall.settings.values import Fail2banFilterConfig


class Fail2banLineFilter:
    """Runs a fail2ban filter file on each line; a failure per <HOST> that is an IP address.

    The time is the one fail2ban's date detection reads from the line. Host names are not
    resolved (fail2ban's usedns is off): a line naming a host instead of an address counts
    for nothing, so an attacker cannot make floodwall ban an address chosen through DNS.
    """

    wants_access = False
    # Only the syslog time, which orders lines across files: the filter reads the raw text.
    wants_syslog = False
    wants_time = True
    necessary: Condition | None = None
    requires: Requirement = None

    def __init__(self, jail: str, ref: Fail2banFilterConfig | FilterDefinition,
                 clock: Clock | None = None, deadline: LineDeadline | None = None) -> None:
        self.jail = jail
        self.deadline = deadline or LineDeadline(None)
        """Bounds the time a line may take (see deadline.py)."""
        self._slow = SlowLines(jail, self.deadline)
        # <HOST> keeps matching host names as in fail2ban (so the same lines match);
        # only their keys are dropped. A line stops at its first matching failregex, as in
        # fail2ban's server (fail2ban-regex tries them all).
        if isinstance(ref, FilterDefinition):  # a native jail's own failregex
            self.engine = Fail2banFilter(ref, clock=clock, check_all=False)
        else:
            self.engine = Fail2banFilter(ref.definition, logtimezone=ref.logtimezone,
                                         clock=clock, check_all=False)
        """The fail2ban filter engine (its stats count lines and hits)."""

    def failures(self, entry: Entry) -> list[Failure]:
        """The failures fail2ban finds in the line, keyed by their normalised address."""
        line = entry.line
        found: list[Failure] = []
        deadline = self.deadline
        deadline.enter()
        try:
            failures = self.engine.feed(line.text, line.lineno, line.time)
        except LineTimeout:
            self._timed_out(entry)
            return found
        finally:
            deadline.leave()
        for failure in failures:
            key = normalise_address(failure.host) if failure.host else None
            when = failure.time if failure.time is not None else entry.time
            if key is None or when is None:
                continue
            fields = {name: value for name, value in failure.fields.items()
                      if isinstance(value, str | int | float)}
            found.append(Failure(self.jail, key, when, line.path, line.lineno, line.text,
                                 fields))
        return found

    @property
    def timeouts(self) -> int:
        """Lines interrupted for taking longer than the deadline's limit (they count nothing)."""
        return self._slow.count

    def _timed_out(self, entry: Entry) -> None:
        """Drop the interrupted line; log it, naming the regexes that are slow on it."""
        self.engine.abandon_line()
        line = entry.line
        self._slow.record(line.path, line.lineno, f"filter {self.engine.definition.path}",
                          lambda: [(option, source, pattern, line.text + "\n")
                                   for option, source, pattern in self.engine.patterns()])
