"""Enrichment of addresses: offline data at once, network sources through a cache.

Each network source's answer (or failure) is kept in the state database until it expires:
answers for cache_ttl, failures for failure_ttl, so a source that fails is not asked again
in a loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from floodwall.clock import Clock, SystemClock
from floodwall.errors import ReconError
from floodwall.recon.backdoor import BackdoorPorts
from floodwall.recon.geo import OfflineGeo
from floodwall.recon.model import Enrichment, merge
from floodwall.recon.rdap import Rdap
from floodwall.recon.rdns import ReverseDns
from floodwall.settings.values import ReconConfig
from floodwall.storage.database import Database, ReconRow

log = logging.getLogger("floodwall.recon")


class Source(Protocol):
    """A network look-up: answers a dict of facts about an address or raises ReconError."""

    name: str

    async def lookup(self, address: str) -> dict[str, Any]:
        """Facts about one address."""
        ...


class Enricher:
    """Answers what is known about an address, asking only the sources whose answer expired."""

    def __init__(self, geo: OfflineGeo, sources: Sequence[Source], database: Database, *,
                 clock: Clock | None = None, cache_ttl: float = 7 * 86400.0,
                 failure_ttl: float = 3600.0) -> None:
        self.geo = geo
        self.sources = list(sources)
        self.database = database
        self.clock = clock or SystemClock()
        self.cache_ttl = cache_ttl
        self.failure_ttl = failure_ttl
        self.lookups = 0
        """Network look-ups made (cache misses), for tests and metrics."""

    async def enrich(self, address: str) -> Enrichment:
        """Everything known about `address`, looking up what the cache lacks."""
        cached = self._fresh_rows(address)
        missing = [s for s in self._sources_for(address) if s.name not in cached]
        if missing:
            rows = await asyncio.gather(*(self._ask(source, address) for source in missing))
            self.database.save_recon(rows)
            cached.update((row.source, row) for row in rows)
        return self._merge(address, cached)

    def known(self, address: str) -> Enrichment:
        """What is known now (offline data and unexpired cache), without asking anyone."""
        return self._merge(address, self._fresh_rows(address))

    async def close(self) -> None:
        """Release the sources' connections and files."""
        for source in self.sources:
            close = getattr(source, "close", None)
            if close is not None:
                await close()
        self.geo.close()

    def _sources_for(self, address: str) -> list[Source]:
        network = ipaddress.ip_network(address, strict=False)
        if network.num_addresses > 1:  # a prefix: only registration data makes sense
            return [s for s in self.sources if s.name == "rdap"]
        return self.sources

    async def _ask(self, source: Source, address: str) -> ReconRow:
        lookup_address = str(ipaddress.ip_network(address, strict=False).network_address)
        self.lookups += 1
        try:
            answer = await source.lookup(lookup_address)
        except ReconError as problem:
            log.info("recon %s: %s (not retried for %ds)", address, problem, self.failure_ttl)
            now = self.clock.now()
            return ReconRow(address, source.name, None, str(problem), now,
                            now + self.failure_ttl)
        now = self.clock.now()
        return ReconRow(address, source.name, json.dumps(answer), None, now,
                        now + self.cache_ttl)

    def _fresh_rows(self, address: str) -> dict[str, ReconRow]:
        now = self.clock.now()
        return {row.source: row for row in self.database.load_recon(address)
                if row.expires > now}

    def _merge(self, address: str, rows: dict[str, ReconRow]) -> Enrichment:
        answers = {name: json.loads(row.value) for name, row in rows.items()
                   if row.value is not None}
        answers["geo"] = self.geo.lookup(address)
        errors = {name: row.error for name, row in rows.items() if row.error is not None}
        return merge(address, answers, errors)


def build_enricher(config: ReconConfig, database: Database, *, clock: Clock | None = None,
                   network: bool = True) -> Enricher:
    """The enricher [recon] describes; network=False keeps to the offline data."""
    sources: list[Source] = []
    if network:
        sources.append(ReverseDns(config.resolver, config.timeout))
        if config.rdap_url:
            sources.append(Rdap(config.rdap_url, config.timeout, config.rdap_interval))
        if config.backdoor_check:
            sources.append(BackdoorPorts(config.backdoor_ports, config.timeout,
                                         config.backdoor_interval))
    return Enricher(OfflineGeo(config.mmdb), sources, database, clock=clock,
                    cache_ttl=config.cache_ttl, failure_ttl=config.failure_ttl)
