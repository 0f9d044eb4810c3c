"""Vhost names found in the access logs of floodwall's configured access-log jails."""

from __future__ import annotations

import glob
import os
import re
from collections import Counter

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
