"""Enrichment against real servers on loopback: DNS (PTR + forward confirmation), RDAP with
recorded JSON, the cache and its expiry, timeouts and failures that are not retried."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from floodwall.clock import ManualClock
from floodwall.recon.enricher import Enricher, build_enricher
from floodwall.settings.values import ReconConfig
from floodwall.storage.database import Database
from tests.recon.servers import DnsServer, rdap_server

RECORDS = {
    ("7.100.51.198.in-addr.arpa", "PTR"): ["host7.attacker.example."],
    ("host7.attacker.example", "A"): ["198.51.100.7"],
    ("8.100.51.198.in-addr.arpa", "PTR"): ["mail.bank.example."],  # a lie: A is elsewhere
    ("mail.bank.example", "A"): ["203.0.113.1"],
}
RDAP = {"198.51.100.7": "rdap-198.51.100.0.json", "198.51.100.8": "rdap-198.51.100.0.json"}


def _enricher(tmp_path: Path, clock: ManualClock, **options: object) -> Enricher:
    config = ReconConfig(**{"timeout": 1.0, "rdap_interval": 0.0, **options})  # type: ignore[arg-type]
    return build_enricher(config, Database(tmp_path / "state.sqlite3"), clock=clock)


def test_rdns_rdap_and_the_cache(tmp_path: Path) -> None:
    clock = ManualClock()
    with DnsServer(RECORDS) as dns_server, rdap_server(RDAP) as (rdap_url, rdap_requests):
        enricher = _enricher(tmp_path, clock, resolver=dns_server.address, rdap_url=rdap_url,
                             cache_ttl=3600.0)

        async def main() -> None:
            found = await enricher.enrich("198.51.100.7")
            assert found.to_json() == {
                "address": "198.51.100.7", "rdns": "host7.attacker.example", "asn": None,
                "as_name": None, "country": "NL", "network": "EXAMPLE-HOSTING-NET",
                "abuse": "abuse@hosting.example", "open_ports": None}
            assert found.errors == {}
            asked = (len(dns_server.queries), len(rdap_requests))
            assert asked == (2, 1)  # PTR, then A to confirm; one RDAP query

            # From the cache: nobody is asked again, even by a new enricher on the same file.
            again = _enricher(tmp_path, clock, resolver=dns_server.address, rdap_url=rdap_url)
            assert (await again.enrich("198.51.100.7")).rdns == "host7.attacker.example"
            assert (len(dns_server.queries), len(rdap_requests)) == asked
            assert again.known("198.51.100.7").abuse == "abuse@hosting.example"

            clock.advance(3601)  # expired: looked up again
            await enricher.enrich("198.51.100.7")
            assert (len(dns_server.queries), len(rdap_requests)) == (4, 2)
            await enricher.close()

        asyncio.run(main())


def test_a_ptr_name_that_does_not_resolve_back_is_not_reported(tmp_path: Path) -> None:
    with DnsServer(RECORDS) as dns_server:
        enricher = _enricher(tmp_path, ManualClock(), resolver=dns_server.address, rdap_url="")
        found = asyncio.run(enricher.enrich("198.51.100.8"))
        assert found.rdns is None
        assert ("mail.bank.example.", "A") in dns_server.queries
        assert asyncio.run(enricher.enrich("198.51.100.9")).rdns is None  # NXDOMAIN


def test_silent_servers_time_out_and_failures_are_not_retried(tmp_path: Path) -> None:
    clock = ManualClock()
    with DnsServer({}, silent=True) as dns_server, \
            rdap_server({}, hang=True) as (rdap_url, rdap_requests):
        enricher = _enricher(tmp_path, clock, resolver=dns_server.address, rdap_url=rdap_url,
                             timeout=0.5, failure_ttl=600.0)

        async def main() -> None:
            started = time.monotonic()
            found = await enricher.enrich("198.51.100.7")
            assert time.monotonic() - started < 2.0, "DNS and RDAP run together, each bounded"
            assert "no answer" in found.errors["dns"] and "within 0.5s" in found.errors["dns"]
            assert "no answer within 0.5s" in found.errors["rdap"]
            asked = (len(dns_server.queries), len(rdap_requests))
            assert asked[0] >= 1 and asked[1] == 1

            # The failure is remembered: asking again right away costs nothing.
            started = time.monotonic()
            again = await enricher.enrich("198.51.100.7")
            assert time.monotonic() - started < 0.2
            assert again.errors == found.errors
            assert (len(dns_server.queries), len(rdap_requests)) == asked

            clock.advance(601)  # after failure_ttl it is tried once more
            await enricher.enrich("198.51.100.7")
            assert len(rdap_requests) == 2
            await enricher.close()

        asyncio.run(main())


def test_rdap_queries_are_rate_limited(tmp_path: Path) -> None:
    with rdap_server(RDAP) as (rdap_url, rdap_requests):
        enricher = _enricher(tmp_path, ManualClock(), rdap_url=rdap_url, rdap_interval=0.3,
                             resolver="127.0.0.1:9")  # nothing answers DNS there

        async def main() -> None:
            await asyncio.gather(*(enricher.enrich(f"198.51.100.{n}") for n in (7, 8, 9)))
            await enricher.close()

        asyncio.run(main())
        times = sorted(when for when, _ in rdap_requests)
        assert len(times) == 3
        assert all(b - a >= 0.28 for a, b in itertools.pairwise(times)), times


def test_offline_data_answers_country_and_network_owner_without_network(tmp_path: Path) -> None:
    enricher = build_enricher(ReconConfig(), Database(tmp_path / "s.sqlite3"), network=False)
    google = asyncio.run(enricher.enrich("8.8.8.8"))
    assert (google.country, google.as_name) == ("US", "GOOGLE")
    v6 = asyncio.run(enricher.enrich("2001:4860:4860::8888"))
    assert (v6.country, v6.as_name) == ("US", "GOOGLE")
    private = asyncio.run(enricher.enrich("10.1.2.3"))
    assert (private.country, private.as_name) == (None, None)
    assert enricher.lookups == 0
