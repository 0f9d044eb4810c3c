"""A fail2ban filter resolved into its regexes and settings: its own small module, so the
`floodwall regex` tool and the fail2ban engine load it without every other setting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FilterDefinition:
    """What a filter file says once every overlay, option and tag is resolved."""

    path: str
    """The filter file that was read."""
    failregex: tuple[str, ...]
    """Failure regexes, with fail2ban tags such as <HOST> still in place."""
    ignoreregex: tuple[str, ...]
    """Regexes whose match cancels a failure."""
    prefregex: str | None
    """Pre-filter every line must match first (its <F-CONTENT> is what failregex sees)."""
    maxlines: int
    """Lines buffered for multi-line regexes."""
    datepattern: str | None
    """Date templates, one a line; None for fail2ban's default set."""
    journalmatch: tuple[str, ...]
    """journald match expressions (used only by a journal source)."""
    usedns: str | None
    """The filter's own `usedns` preference, if any."""
    options: Mapping[str, str]
    """Every resolved option (including `known/…` and [Init] values), for diagnostics."""

def inline_filter(where: str, failregex: tuple[str, ...], ignoreregex: tuple[str, ...] = (),
                  datepattern: str | None = None) -> FilterDefinition:
    """A filter given by its regexes (a native jail's `failregex`), not read from a file;
    `where` names their place in errors."""
    return FilterDefinition(path=where, failregex=failregex, ignoreregex=ignoreregex,
                            prefregex=None, maxlines=1, datepattern=datepattern,
                            journalmatch=(), usedns=None, options={})
