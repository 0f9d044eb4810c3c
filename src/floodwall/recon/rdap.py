"""RDAP registration data of an address: network name, registrant country, abuse contact."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from floodwall.errors import ReconError
from floodwall.pacing import Pacer


class Rdap:
    """Queries BASE/ip/ADDRESS (following redirects), one query at a time, each an interval
    after the previous answer."""

    name = "rdap"

    def __init__(self, base_url: str, timeout: float = 3.0, interval: float = 1.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._pacer = Pacer(interval)
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=True, transport=transport,
            headers={"Accept": "application/rdap+json, application/json",
                     "User-Agent": "floodwall-recon"})

    async def lookup(self, address: str) -> dict[str, Any]:
        """{'network', 'country', 'abuse'} from the RDAP record of the address."""
        url = f"{self.base_url}/ip/{address}"
        try:
            async with self._pacer.turn(), asyncio.timeout(self.timeout):
                response = await self._client.get(url)
        except (TimeoutError, httpx.TimeoutException):
            raise ReconError(f"RDAP {url}: no answer within {self.timeout:g}s") from None
        except httpx.HTTPError as problem:
            raise ReconError(f"RDAP {url}: {type(problem).__name__}: {problem}") from None
        if response.status_code != 200:
            raise ReconError(f"RDAP {url}: HTTP {response.status_code}")
        try:
            record = response.json()
        except ValueError:
            raise ReconError(f"RDAP {url}: the answer is not JSON") from None
        if not isinstance(record, dict):
            raise ReconError(f"RDAP {url}: the answer is not an RDAP object")
        return {"network": _text(record.get("name")), "country": _text(record.get("country")),
                "abuse": _abuse_email(record.get("entities"))}

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _abuse_email(entities: Any, depth: int = 0) -> str | None:
    """The e-mail of the first entity with the 'abuse' role (entities nest, a few levels)."""
    if not isinstance(entities, list) or depth > 4:
        return None
    for entity in entities:
        if not isinstance(entity, dict):
            continue
        if "abuse" in (entity.get("roles") or ()):
            email = _vcard_email(entity.get("vcardArray"))
            if email:
                return email
        nested = _abuse_email(entity.get("entities"), depth + 1)
        if nested:
            return nested
    return None


def _vcard_email(vcard: Any) -> str | None:
    # jCard: ["vcard", [[name, params, type, value], ...]]
    if not isinstance(vcard, list) or len(vcard) < 2 or not isinstance(vcard[1], list):
        return None
    for item in vcard[1]:
        if isinstance(item, list) and len(item) >= 4 and item[0] == "email":
            return _text(item[3])
    return None
