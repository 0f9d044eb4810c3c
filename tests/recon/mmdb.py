"""Writes tiny MaxMind-format (MMDB) databases for tests: an IPv4 tree with one network."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

_MARKER = b"\xab\xcd\xefMaxMind.com"


def _control(kind: int, size: int) -> bytes:
    assert size < 29 + 256
    short, extra = (size, b"") if size < 29 else (29, bytes([size - 29]))
    head = bytes([kind << 5 | short]) if kind <= 7 else bytes([short, kind - 7])
    return head + extra


def _encode(value: Any, kind: int | None = None) -> bytes:
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(_encode(k) + _encode(v)
                                                  for k, v in value.items())
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(_encode(v) for v in value)
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return _control(kind or 6, len(raw)) + raw  # 6 = uint32, 5 = uint16, 9 = uint64


def write_mmdb(path: Path, network: str, record: dict[str, Any],
               database_type: str = "GeoLite2-ASN") -> None:
    """An IPv4 database where `network` holds `record` and nothing else has data."""
    net = ipaddress.IPv4Network(network)
    depth = net.prefixlen
    nodes = depth
    data = _encode(record)
    pointer = nodes + 16  # data section offset 0
    tree = bytearray()
    bits = int(net.network_address)
    for level in range(depth):
        bit = bits >> (31 - level) & 1
        follow = pointer if level == depth - 1 else level + 1
        left, right = (follow, nodes) if bit == 0 else (nodes, follow)
        tree += left.to_bytes(3, "big") + right.to_bytes(3, "big")
    metadata = _control(7, 9) + b"".join(_encode(k) + _encode(v, kind) for k, v, kind in (
        ("node_count", nodes, 6), ("record_size", 24, 5), ("ip_version", 4, 5),
        ("database_type", database_type, None), ("languages", ["en"], None),
        ("binary_format_major_version", 2, 5), ("binary_format_minor_version", 0, 5),
        ("build_epoch", 1_700_000_000, 9), ("description", {"en": "floodwall test"}, None)))
    path.write_bytes(bytes(tree) + b"\x00" * 16 + data + _MARKER + metadata)
