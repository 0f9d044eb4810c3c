"""What every jail filter offers: failures out of parsed entries."""

from __future__ import annotations

from typing import Literal, Protocol

from floodwall.matching.entries import Entry
from floodwall.matching.prefilter import Condition
from floodwall.model import Failure

Requirement = Literal["access", "syslog"] | None
"""The parsed fields a filter cannot match without (None: it reads the raw text)."""


class LineFilter(Protocol):
    """Turns parsed log entries into failures attributed to a key."""

    wants_access: bool
    """True if the filter reads access-log fields (the file is parsed as an access log)."""
    wants_syslog: bool
    """True if the filter reads syslog fields."""
    wants_time: bool
    """True if the filter needs only the line's syslog time (to order lines across files),
    not its other fields."""
    necessary: Condition | None
    """Literals a line must contain to possibly match (see prefilter.py); None = unknown."""
    requires: Requirement
    """Lines without these parsed fields cannot match (skipped); None = reads the raw text."""
    @property
    def timeouts(self) -> int:
        """Lines interrupted for taking longer than the line deadline (see deadline.py)."""
        ...

    def failures(self, entry: Entry) -> list[Failure]:
        """Failures the entry produces (usually none or one)."""
        ...
