"""Failure ids as fail2ban reports them: canonical addresses, optional prefix, or raw text."""

from __future__ import annotations

import functools
import socket

_V4_MAPPED = 0xFFFF << 32
_V4_MAPPED_MASK = ~((1 << 32) - 1) & ((1 << 128) - 1)


@functools.lru_cache(maxsize=65536)
def canonical_host(text: str, family: int | None = None, prefix: int | None = None) -> str:
    """`text` as a canonical address (IPv4-mapped IPv6 as IPv4, `/prefix` when narrower than
    a host); text that is not an address of `family` (4, 6 or either) is returned unchanged."""
    families = {4: (socket.AF_INET,), 6: (socket.AF_INET6,)}.get(
        family or 0, (socket.AF_INET, socket.AF_INET6))
    for af in families:
        try:
            packed = socket.inet_pton(af, text)
        except OSError:
            continue
        bits = 32 if af == socket.AF_INET else 128
        value = int.from_bytes(packed, "big")
        length = bits
        if prefix is not None:
            length = prefix
            value &= ~((1 << (bits - prefix)) - 1) & ((1 << bits) - 1) if prefix <= bits else value
        elif af == socket.AF_INET6 and value & _V4_MAPPED_MASK == _V4_MAPPED:
            return socket.inet_ntop(socket.AF_INET, (value & 0xFFFFFFFF).to_bytes(4, "big"))
        suffix = f"/{length}" if length and length < bits else ""
        return socket.inet_ntop(af, value.to_bytes(bits // 8, "big")) + suffix
    return text
