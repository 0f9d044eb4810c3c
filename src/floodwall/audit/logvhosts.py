"""Vhost names found in the access logs of floodwall's configured access-log jails."""

from __future__ import annotations

import glob
import ipaddress
import os
import re
import socket
from collections import Counter
from collections.abc import Callable, Collection, Iterable

from floodwall.matching.accesslog import access_parser
from floodwall.settings.values import Config
from floodwall.sources.reader import open_log

TAIL_BYTES = 1 << 20
"""Only the end of each log is read: enough to see which names it serves."""
MAX_NAMES = 500
"""At most this many names are returned."""
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
                       r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")


def vhosts_from_logs(config: Config, tail_bytes: int = TAIL_BYTES) -> list[str]:
    """Host names in the %V/$host field of the logs that access jails read, busiest first.

    The Host header is client text, so a name only counts when it is a syntactically valid
    DNS name, the server answered it with a 2xx/3xx (it serves that site), and it was seen
    at least twice; an address or a made-up label never becomes a fetch target.
    """
    seen: Counter[str] = Counter()
    for jail in config.enabled_jails():
        if jail.filter != "access":
            continue
        parser = access_parser(jail.format, jail.format_kind)
        for pattern in jail.logpath:
            for path in glob.glob(pattern):
                for line in _tail(path, tail_bytes):
                    record = parser.parse(line)
                    if record is None or not record.vhost or not 200 <= record.status < 400:
                        continue
                    name = record.vhost.lower().rstrip(".")
                    if _HOSTNAME.match(name) and not name.replace(".", "").isdigit():
                        seen[name] += 1
    return [name for name, count in seen.most_common(MAX_NAMES) if count >= 2]


Resolver = Callable[[str], list[str]]
"""A host name's addresses (empty when it does not resolve)."""


def resolve_name(name: str) -> list[str]:
    """The addresses DNS (or /etc/hosts) gives for a name; empty when none."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def served_here(names: Iterable[str], configured: Collection[str], own: Collection[str],
                resolve: Resolver = resolve_name) -> list[str]:
    """The names from logs that are this host's to audit: a vhost of the web server's
    configuration, or a name every address of which is this host's own. A Host header is
    client text: a name pointing elsewhere (a cluster-internal service, another host of the
    private network) is never fetched."""
    mine = {ipaddress.ip_address(address) for address in own}
    kept = []
    for name in names:
        if name in configured:
            kept.append(name)
            continue
        addresses = {ipaddress.ip_address(address.split("%")[0]) for address in resolve(name)}
        if addresses and addresses <= mine:
            kept.append(name)
    return kept


def _tail(path: str, size: int) -> list[str]:
    if path.endswith(".gz"):
        return []
    try:
        with open_log(path) as handle:
            handle.seek(max(0, os.path.getsize(path) - size))
            data = handle.read(size)
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").split("\n")
    return lines[1:-1] if len(lines) > 2 else lines[:-1]
