"""What is known about one address: the answers of every recon source, merged."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_KEYS = ("address", "rdns", "asn", "as_name", "country", "network", "abuse", "open_ports")
"""The keys of `floodwall recon --json`, in order."""


@dataclass(frozen=True, slots=True)
class Enrichment:
    """Who an address is, as far as the sources could tell; None where unknown."""

    address: str
    """The address (or prefix) looked up."""
    rdns: str | None = None
    """Reverse DNS name, only when its forward look-up leads back to the address."""
    asn: int | None = None
    """Autonomous system number (when the data has it)."""
    as_name: str | None = None
    """Name of the autonomous system (network owner), e.g. GOOGLE."""
    country: str | None = None
    """ISO 3166 code: where the offline data places the address, else RDAP's registrant."""
    network: str | None = None
    """Name of the registered network block (RDAP)."""
    abuse: str | None = None
    """Abuse contact e-mail of the network (RDAP)."""
    open_ports: tuple[int, ...] | None = None
    """Backdoor ports found open; None when not checked."""
    prefix: str | None = None
    """Announced prefix holding the address (offline data), for grouping by network."""
    errors: Mapping[str, str] = field(default_factory=dict)
    """Source name -> why its look-up failed (kept until it is retried)."""

    def to_json(self) -> dict[str, Any]:
        """The object `floodwall recon --json` prints: exactly JSON_KEYS."""
        return {"address": self.address, "rdns": self.rdns, "asn": self.asn,
                "as_name": self.as_name, "country": self.country, "network": self.network,
                "abuse": self.abuse,
                "open_ports": None if self.open_ports is None else list(self.open_ports)}

    def network_label(self) -> str:
        """How reports name the network: "AS15169 GOOGLE", "GOOGLE", a prefix or "unknown"."""
        if self.as_name and self.asn is not None:
            return f"AS{self.asn} {self.as_name}"
        return self.as_name or (f"AS{self.asn}" if self.asn is not None else None) or (
            self.prefix or "unknown")


def merge(address: str, answers: Mapping[str, Mapping[str, Any]],
          errors: Mapping[str, str]) -> Enrichment:
    """One Enrichment from each source's answer ('geo', 'rdap', 'dns', 'ports')."""
    geo, rdap = answers.get("geo", {}), answers.get("rdap", {})
    ports = answers.get("ports")
    return Enrichment(
        address=address,
        rdns=answers.get("dns", {}).get("rdns"),
        asn=geo.get("asn"),
        as_name=geo.get("as_name"),
        country=geo.get("country") or rdap.get("country"),
        network=rdap.get("network"),
        abuse=rdap.get("abuse"),
        open_ports=None if ports is None else tuple(ports.get("open_ports", ())),
        prefix=geo.get("prefix"),
        errors=dict(errors),
    )
