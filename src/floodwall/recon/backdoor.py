"""Opt-in check of known backdoor and remote-access ports on a banned address.

This connects to the attacker's host: it is off unless [recon] backdoor_check = true.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from floodwall.pacing import Pacer


class BackdoorPorts:
    """TCP connect checks of a list of ports, one address at a time, each an interval
    after the previous one finished."""

    name = "ports"

    def __init__(self, ports: Sequence[int], timeout: float = 3.0, interval: float = 1.0) -> None:
        self.ports = tuple(ports)
        self.timeout = timeout
        self._pacer = Pacer(interval)

    async def lookup(self, address: str) -> dict[str, Any]:
        """{'open_ports': the ports that accepted a connection, ascending}."""
        async with self._pacer.turn():
            results = await asyncio.gather(*(self._is_open(address, port) for port in self.ports))
        found = zip(self.ports, results, strict=False)
        return {"open_ports": sorted(port for port, is_open in found if is_open)}

    async def _is_open(self, address: str, port: int) -> bool:
        try:
            async with asyncio.timeout(self.timeout):
                _, writer = await asyncio.open_connection(address, port)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
