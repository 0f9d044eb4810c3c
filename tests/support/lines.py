"""Log lines as real servers write them: nginx/Apache combined access lines and sshd's syslog
lines, stamped with a time the test chooses (by default now, so that a daemon running on the
real clock keeps counting them: a window whose newest failure is older than findtime is
released by the daemon's next tick)."""

from __future__ import annotations

import time

ACCESS_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S +0000"
"""The time of a combined access line (UTC)."""


def access_line(client: str, path: str = "/", *, status: int = 404, method: str = "GET",
                user: str = "-", agent: str = "curl/8", referer: str = "-",
                when: float | None = None) -> str:
    """One combined-format access line, newline included; `when` is epoch seconds (now)."""
    stamp = time.strftime(ACCESS_TIME_FORMAT, time.gmtime(time.time() if when is None else when))
    return (f'{client} - {user} [{stamp}] "{method} {path} HTTP/1.1" {status} 10 '
            f'"{referer}" "{agent}"\n')


def sshd_failed_line(client: str, user: str = "root", *, pid: int = 770, port: int = 40000,
                     host: str = "web1", invalid: bool = False, when: float | None = None) -> str:
    """sshd's `Failed password` syslog line, newline included, at local time `when` (now)."""
    moment = time.localtime(time.time() if when is None else when)
    stamp = f"{time.strftime('%b', moment)} {moment.tm_mday:2d} {time.strftime('%H:%M:%S', moment)}"
    invalid_user = "invalid user " if invalid else ""
    return (f"{stamp} {host} sshd[{pid}]: Failed password for {invalid_user}{user} from {client} "
            f"port {port} ssh2\n")
