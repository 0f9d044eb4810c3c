"""ASN, AS name and country from offline data: MaxMind-format databases the operator gives
(GeoLite2-ASN, GeoLite2-Country/City, or compatible), else the data bundled with geoip2fast.
Nothing here touches the network."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Sequence
from typing import Any

import maxminddb
from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]

from floodwall.errors import ReconError

BUNDLED_DATA = "geoip2fast-asn-ipv6.dat.gz"
"""geoip2fast's file with country and AS name for IPv4 and IPv6 (it has no AS numbers)."""


class OfflineGeo:
    """Looks addresses up in local data; the bundled data is loaded once, on first use."""

    name = "geo"

    def __init__(self, mmdb_paths: Sequence[str] = ()) -> None:
        self._readers = []
        for path in mmdb_paths:
            try:
                self._readers.append(maxminddb.open_database(path))
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as problem:
                raise ReconError(f"{path}: cannot read this MaxMind database ({problem}); "
                                 "fix or remove it from [recon] mmdb") from None
        self._bundled: GeoIP2Fast | None = None
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Load the bundled data now (about a quarter of a second) instead of on first use."""
        with self._load_lock:
            if self._bundled is None:
                self._bundled = GeoIP2Fast(geoip2fast_data_file=BUNDLED_DATA, verbose=False)

    def lookup(self, address: str) -> dict[str, Any]:
        """{'asn', 'as_name', 'country', 'prefix'} for an address or prefix (None: unknown)."""
        ip = ipaddress.ip_network(address, strict=False).network_address
        if not ip.is_global:
            return {"asn": None, "as_name": None, "country": None, "prefix": None}
        answer: dict[str, Any] = {}
        for reader in self._readers:
            record, length = reader.get_with_prefix_len(str(ip))
            if isinstance(record, dict):
                _from_mmdb(answer, record, f"{ipaddress.ip_network((ip, length), strict=False)}")
        if None in (answer.get("as_name"), answer.get("country"), answer.get("prefix")):
            _from_bundled(answer, self._bundled_data().lookup(str(ip)).to_dict())
        return {key: answer.get(key) for key in ("asn", "as_name", "country", "prefix")}

    def close(self) -> None:
        """Close the MaxMind databases."""
        for reader in self._readers:
            reader.close()

    def _bundled_data(self) -> GeoIP2Fast:
        if self._bundled is None:
            self.load()
        assert self._bundled is not None
        return self._bundled


def _from_mmdb(answer: dict[str, Any], record: dict[str, Any], prefix: str) -> None:
    number = record.get("autonomous_system_number")
    if number is not None and answer.get("asn") is None:
        answer["asn"] = int(number)
        answer["prefix"] = prefix
    organisation = record.get("autonomous_system_organization")
    if organisation and not answer.get("as_name"):
        answer["as_name"] = str(organisation)
    for key in ("country", "registered_country"):
        code = (record.get(key) or {}).get("iso_code")
        if code and not answer.get("country"):
            answer["country"] = str(code)


def _from_bundled(answer: dict[str, Any], found: dict[str, Any]) -> None:
    if found.get("is_private"):
        return
    country = found.get("country_code") or ""
    if len(country) == 2 and country.isalpha() and not answer.get("country"):
        answer["country"] = country
    if found.get("asn_name") and not answer.get("as_name"):
        answer["as_name"] = found["asn_name"]
    if found.get("asn_cidr") and not answer.get("prefix"):
        answer["prefix"] = found["asn_cidr"]
