"""Errors a user can cause, each telling what went wrong and what to do.

    FloodwallError
    ├── ConfigError        a config file is wrong (file, line, key, expected)
    ├── SourceError        a log source cannot be read
    ├── EnforcementError   the firewall refused a change
    ├── StorageError       the state database cannot be used
    ├── ControlError       the daemon cannot be reached or refused a request
    ├── ReconError         a look-up about an address (DNS, RDAP, offline data) failed
    └── ImportFileError    a file of bans to import is invalid (file, line, what is wrong)
"""

from __future__ import annotations


class FloodwallError(Exception):
    """Base of every error meant for an operator rather than a traceback."""


class ConfigError(FloodwallError):
    """A configuration file is invalid; the message names file, line, key and what is expected."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.path = path
        self.line = line
        self.key = key
        where = ""
        if path is not None:
            where = path if line is None else f"{path}:{line}"
        prefix = ": ".join(part for part in (where, key and f"key '{key}'") if part)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class SourceError(FloodwallError):
    """A log source cannot be read."""


class EnforcementError(FloodwallError):
    """The firewall backend refused or failed to apply a change."""


class StorageError(FloodwallError):
    """The state database cannot be opened or written."""


class ControlError(FloodwallError):
    """The daemon's control socket cannot be reached or refused a request."""


class ReconError(FloodwallError):
    """A look-up about an address failed (no answer, refused, unreadable data)."""


class ImportFileError(FloodwallError):
    """A file of bans given to import is invalid; the message names file and line."""
