"""`floodwall recon ADDRESS…` and `floodwall recon --banned [--since 1d]`: who they are."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from floodwall.addresses import normalise_address, parse_key
from floodwall.cli.common import add_config_option, config_from, print_json, print_table
from floodwall.errors import FloodwallError
from floodwall.recon.enricher import Enricher, build_enricher
from floodwall.recon.model import Enrichment
from floodwall.settings.durations import parse_duration
from floodwall.storage.database import Database

CONCURRENT = 8
"""Addresses looked up at the same time (each source also keeps its own rate limit)."""


def register(subparsers: Any) -> None:
    """Add the recon subcommand."""
    parser = subparsers.add_parser(
        "recon", help="who are these addresses: rDNS, ASN, country, RDAP, backdoor ports",
        description="Enrich addresses (or every address banned recently) from the cache, "
                    "offline data, DNS and RDAP; the backdoor port check runs only when "
                    "[recon] backdoor_check = true, since it connects to the address.")
    add_config_option(parser)
    parser.add_argument("addresses", nargs="*", metavar="ADDRESS", help="IPv4/IPv6 address")
    parser.add_argument("--banned", action="store_true", help="every address banned recently")
    parser.add_argument("--since", default=None,
                        help="with --banned: bans started within this long (default 1d)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per address (null where unknown)")
    parser.add_argument("--offline", action="store_true",
                        help="offline data and cache only: no DNS, RDAP or port checks")
    parser.set_defaults(func=_recon)


def _recon(args: argparse.Namespace) -> int:
    if bool(args.addresses) == bool(args.banned):
        raise FloodwallError("give addresses or --banned (not both)")
    config = config_from(args)
    database = Database(config.database)
    try:
        since = _since(args)
        keys = _keys(args.addresses) if args.addresses else sorted(
            {s.ban.key for s in database.bans_since(since or 0.0)}, key=_sort_key)
        enricher = build_enricher(config.recon, database, network=not args.offline)
        found = asyncio.run(_enrich_all(enricher, keys))
        if args.json:
            for enrichment in found:
                print_json(enrichment.to_json())
            return 0
        rows = []
        for enrichment in found:
            bans = [s for s in database.bans_of(enrichment.address)
                    if since is None or s.ban.start >= since]
            rows.append(_row(enrichment, sorted({s.ban.jail for s in bans}), len(bans)))
        print_table(["address", "jails", "bans", "rdns", "asn", "as name", "network", "country",
                     "abuse", "open ports"], rows)
        for enrichment in found:
            for source, error in sorted(enrichment.errors.items()):
                print(f"note: {enrichment.address}: {source}: {error}")
        return 0
    finally:
        database.close()


def _since(args: argparse.Namespace) -> float | None:
    if args.since is None and not args.banned:
        return None
    try:
        seconds = parse_duration(args.since or "1d")
    except ValueError as problem:
        raise FloodwallError(f"--since: {problem}") from None
    return time.time() - seconds


def _keys(addresses: list[str]) -> list[str]:
    keys = []
    for text in addresses:
        key = normalise_address(text)
        if key is None:
            try:
                key = str(parse_key(text))
            except ValueError:
                raise FloodwallError(f"{text!r} is not an IP address or network") from None
        keys.append(key)
    return list(dict.fromkeys(keys))


def _sort_key(key: str) -> tuple[int, str]:
    return (6 if ":" in key else 4, key)


async def _enrich_all(enricher: Enricher, keys: list[str]) -> list[Enrichment]:
    limit = asyncio.Semaphore(CONCURRENT)

    async def one(key: str) -> Enrichment:
        async with limit:
            return await enricher.enrich(key)

    try:
        return list(await asyncio.gather(*(one(key) for key in keys)))
    finally:
        await enricher.close()


def _row(found: Enrichment, jails: list[str], bans: int) -> list[str]:
    def show(value: object) -> str:
        return "-" if value is None else str(value)
    ports = "not checked" if found.open_ports is None else (
        ",".join(map(str, found.open_ports)) or "none")
    return [found.address, ",".join(jails) or "-", str(bans), show(found.rdns),
            show(found.asn), show(found.as_name), show(found.network), show(found.country),
            show(found.abuse), ports]
