"""Ports as operators write them: "80", "8000-8080" (or "8000:8080"), service names ("ssh")."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable

_RANGE = re.compile(r"(\d+)\s*[-:]\s*(\d+)")


def port_ranges(ports: Iterable[str], protocol: str = "tcp") -> tuple[tuple[int, int], ...]:
    """Each port item as an inclusive (first, last) range, service names looked up for
    `protocol` ("tcp", "udp" or "all"); ValueError saying what is wrong and how to fix it."""
    return tuple(_port_range(item, protocol) for item in ports)


def _port_range(item: str, protocol: str) -> tuple[int, int]:
    text = item.strip()
    bounds = _RANGE.fullmatch(text)
    if bounds is None:
        number = _port_number(text, item, protocol)
        return number, number
    low, high = (_port_number(bound, item, protocol) for bound in bounds.groups())
    if low > high:
        raise ValueError(f"port range '{item}' runs backwards; write it as {high}-{low}")
    return low, high


def _port_number(text: str, item: str, protocol: str) -> int:
    if text.isascii() and text.isdigit():
        number = int(text)
        if 1 <= number <= 65535:
            return number
        raise ValueError(f"port '{item}' is outside 1-65535; fix the jail's port list")
    protocols = ("tcp", "udp") if protocol == "all" else (protocol,)
    for name in protocols:
        try:
            return socket.getservbyname(text, name)
        except OSError:
            continue
    raise ValueError(f"port '{item}' is neither a number, a range nor a known "
                     f"{'/'.join(protocols)} service name (see /etc/services); fix the jail's "
                     "port list")
