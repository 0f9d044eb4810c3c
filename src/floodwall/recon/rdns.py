"""Reverse DNS with forward confirmation: a PTR name counts only if it resolves back."""

from __future__ import annotations

import ipaddress
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver
import dns.reversename

from floodwall.errors import ReconError


class ReverseDns:
    """PTR look-ups through one resolver (the system's, or "address[:port]")."""

    name = "dns"

    def __init__(self, resolver: str = "", timeout: float = 3.0) -> None:
        self.server = resolver or "the system resolver"
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=not resolver)
        except dns.resolver.NoResolverConfiguration:
            raise ReconError("no DNS resolver configured (/etc/resolv.conf is empty); "
                             "set [recon] resolver = \"ADDRESS[:PORT]\"") from None
        if resolver:
            host, port = _split(resolver)
            self._resolver.nameservers = [host]
            self._resolver.port = port
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout

    async def lookup(self, address: str) -> dict[str, Any]:
        """{'rdns': confirmed name or None, 'ptr': the PTR names found}."""
        ip = ipaddress.ip_address(address)
        names = await self._resolve(dns.reversename.from_address(address), "PTR", address)
        for name in names:
            record = "A" if ip.version == 4 else "AAAA"
            forward = await self._resolve(dns.name.from_text(name), record, address)
            if any(ipaddress.ip_address(a) == ip for a in forward):
                return {"rdns": name.rstrip("."), "ptr": names}
        return {"rdns": None, "ptr": names}

    async def _resolve(self, qname: dns.name.Name, record: str, address: str) -> list[str]:
        try:
            answer = await self._resolver.resolve(qname, record, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.Timeout:
            raise ReconError(f"reverse DNS of {address}: no answer from {self.server} for "
                             f"{qname} {record} within {self._resolver.lifetime:g}s") from None
        except dns.exception.DNSException as problem:
            raise ReconError(f"reverse DNS of {address}: {qname} {record} failed at "
                             f"{self.server}: {problem}") from None
        return [rdata.to_text() for rdata in answer]


def _split(resolver: str) -> tuple[str, int]:
    """("127.0.0.1", 53) from "127.0.0.1", "127.0.0.1:5353" or "[::1]:5353"."""
    try:
        return str(ipaddress.ip_address(resolver)), 53
    except ValueError:
        host, _, port = resolver.rpartition(":")
        return host.strip("[]"), int(port)
