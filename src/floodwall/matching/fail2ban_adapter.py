"""A fail2ban filter as a jail's LineFilter: which lines fail is fail2ban's call, the key ours."""

from __future__ import annotations

from floodwall.addresses import normalise_address
from floodwall.clock import Clock
from floodwall.config.model import Fail2banFilterRef
from floodwall.matching.entries import Entry
from floodwall.matching.fail2ban.engine import Fail2banFilter
from floodwall.matching.filters import Requirement
from floodwall.matching.prefilter import Condition
from floodwall.model import Failure


class Fail2banLineFilter:
    """Runs a fail2ban filter file on each line; a failure per <HOST> that is an IP address.

    The time is the one fail2ban's date detection reads from the line. Host names are not
    resolved (fail2ban's usedns is off): a line naming a host instead of an address counts
    for nothing, so an attacker cannot make floodwall ban an address chosen through DNS.
    """

    wants_access = False
    # Syslog fields only give the entry a time, which orders lines across files.
    wants_syslog = True
    necessary: Condition | None = None
    requires: Requirement = None

    def __init__(self, jail: str, ref: Fail2banFilterRef, clock: Clock | None = None) -> None:
        self.jail = jail
        # <HOST> keeps matching host names as in fail2ban (so the same lines match);
        # only their keys are dropped. A line stops at its first matching failregex, as in
        # fail2ban's server (fail2ban-regex tries them all).
        self.engine = Fail2banFilter(ref.path, dict(ref.options), logtimezone=ref.logtimezone,
                                     clock=clock, check_all=False)
        """The fail2ban filter engine (its stats count lines and hits)."""

    def failures(self, entry: Entry) -> list[Failure]:
        """The failures fail2ban finds in the line, keyed by their normalised address."""
        line = entry.line
        found: list[Failure] = []
        for failure in self.engine.feed(line.text, line.lineno, line.time):
            key = normalise_address(failure.host) if failure.host else None
            when = failure.time if failure.time is not None else entry.time
            if key is None or when is None:
                continue
            fields = {name: value for name, value in failure.fields.items()
                      if isinstance(value, str | int | float)}
            found.append(Failure(self.jail, key, when, line.path, line.lineno, line.text,
                                 fields))
        return found
