"""Log lines as real servers write them: nginx/Apache combined access lines and syslog lines
(sshd's, or any program's), stamped with a time the test chooses, and the SourceLine values
a daemon's ban path takes when a test feeds it directly.

Two rules keep the times honest:

- a test on the real clock stamps its lines now (the default): a window whose newest
  failure is older than findtime is released by the daemon's next tick, so old lines that
  arrive in two batches may never add up to a ban;
- a test on a manual clock stamps its lines at fixed moments consistent with that clock,
  counted from T0 (the moment `tests.support.daemons.fed_daemon` starts its clock at).
"""

from __future__ import annotations

import time
from pathlib import Path

from floodwall.model import SourceLine

T0 = 1_772_438_400.0
"""2026-03-02 08:00:00 UTC: where manual clocks start, and the lines of their tests."""

ACCESS_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S +0000"
"""The time of a combined access line (UTC)."""


def access_line(client: str, path: str = "/", *, status: int = 404, method: str = "GET",
                user: str = "-", agent: str = "curl/8", referer: str = "-",
                when: float | None = None) -> str:
    """One combined-format access line, newline included; `when` is epoch seconds (now)."""
    stamp = time.strftime(ACCESS_TIME_FORMAT, time.gmtime(time.time() if when is None else when))
    return (f'{client} - {user} [{stamp}] "{method} {path} HTTP/1.1" {status} 10 '
            f'"{referer}" "{agent}"\n')


def syslog_stamp(when: float | None = None) -> str:
    """A BSD syslog time (`Nov  2 04:00:01`) of local time `when` (now)."""
    moment = time.localtime(time.time() if when is None else when)
    return f"{time.strftime('%b', moment)} {moment.tm_mday:2d} {time.strftime('%H:%M:%S', moment)}"


def syslog_line(program: str, message: str, *, pid: int = 77, host: str = "web1",
                when: float | None = None) -> str:
    """`<time> <host> <program>[<pid>]: <message>`, newline included, at local time `when`."""
    return f"{syslog_stamp(when)} {host} {program}[{pid}]: {message}\n"


def sshd_failed_line(client: str, user: str = "root", *, pid: int = 770, port: int = 40000,
                     host: str = "web1", invalid: bool = False, when: float | None = None) -> str:
    """sshd's `Failed password` syslog line, newline included, at local time `when` (now)."""
    invalid_user = "invalid user " if invalid else ""
    return syslog_line("sshd", f"Failed password for {invalid_user}{user} from {client} port "
                       f"{port} ssh2", pid=pid, host=host, when=when)


def sshd_invalid_user_line(client: str, user: str = "x", *, pid: int = 770, port: int = 40000,
                           host: str = "web1", when: float | None = None) -> str:
    """sshd's `Invalid user` syslog line, newline included, at local time `when` (now)."""
    return syslog_line("sshd", f"Invalid user {user} from {client} port {port}", pid=pid,
                       host=host, when=when)


def source_lines(path: str | Path, text: str, first_line: int = 1) -> list[SourceLine]:
    """The lines of `text` as read from the file `path`, numbered from `first_line`: what a
    test hands to `Daemon.process` instead of writing a file for the daemon to follow."""
    return [SourceLine(str(path), number, line)
            for number, line in enumerate(text.splitlines(), start=first_line)]
