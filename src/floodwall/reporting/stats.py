"""Statistics over the ledger: bans and failures over time, top lists, repeat offenders and
the share of attack traffic by network. Reads the database; never writes to it.

Failures are the evidence lines kept with each ban (the failures that led to it). What an
access line requests (its vhost and path) is read by the caller's `RequestReader` (the
matching room's `accesslog.request_reader`): reporting parses no log line itself.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from floodwall.recon.model import Enrichment
from floodwall.storage.database import Database

RequestReader = Callable[[str], tuple[str | None, str] | None]
"""Reads a log line's (vhost, path); None when the line is not an access line."""

BUCKETS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
"""Widths (seconds) the timeline may use; the smallest giving at most MAX_BUCKETS wins
(longer periods use whole days)."""
MAX_BUCKETS = 60


@dataclass(frozen=True, slots=True)
class Count:
    """One row of a top list."""

    label: str
    value: int
    share: float
    """value / the total the list is taken from (0..1)."""


@dataclass(frozen=True, slots=True)
class TimeBucket:
    """Bans and failures in [start, start + width)."""

    start: float
    bans: int
    failures: int


@dataclass(frozen=True, slots=True)
class Offender:
    """An address banned more than once in the period."""

    address: str
    bans: int
    jails: tuple[str, ...]
    network: str
    country: str | None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything `floodwall report` and the dashboard show."""

    since: float
    until: float
    bucket_seconds: int
    bans: int
    failures: int
    addresses: int
    timeline: tuple[TimeBucket, ...]
    top_jails: tuple[Count, ...]
    top_asns: tuple[Count, ...]
    top_countries: tuple[Count, ...]
    top_vhosts: tuple[Count, ...]
    top_paths: tuple[Count, ...]
    repeat_offenders: tuple[Offender, ...]
    network_share: tuple[Count, ...]
    """Failures per network (AS), as a share of all failures."""

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON values."""
        def counts(rows: tuple[Count, ...]) -> list[dict[str, Any]]:
            return [{"label": c.label, "value": c.value, "share": c.share} for c in rows]
        return {
            "since": self.since, "until": self.until, "bucket_seconds": self.bucket_seconds,
            "bans": self.bans, "failures": self.failures, "addresses": self.addresses,
            "timeline": [{"start": b.start, "bans": b.bans, "failures": b.failures}
                         for b in self.timeline],
            "top_jails": counts(self.top_jails), "top_asns": counts(self.top_asns),
            "top_countries": counts(self.top_countries), "top_vhosts": counts(self.top_vhosts),
            "top_paths": counts(self.top_paths), "network_share": counts(self.network_share),
            "repeat_offenders": [{"address": o.address, "bans": o.bans, "jails": list(o.jails),
                                  "network": o.network, "country": o.country}
                                 for o in self.repeat_offenders],
        }


def build_report(database: Database, *, since: float, now: float,
                 lookup: Callable[[str], Enrichment], requests: RequestReader,
                 top: int = 10) -> Report:
    """The report of bans started in [since, now]; `lookup` tells who an address is,
    `requests` what an evidence line requests."""
    bans = database.bans_since(since)
    evidence = database.evidence_since(since)
    key_of = {stored.id: stored.ban.key for stored in bans}
    who = {key: lookup(key) for key in sorted(set(key_of.values()))}

    width = next((w for w in BUCKETS if (now - since) / w <= MAX_BUCKETS),
                 math.ceil((now - since) / MAX_BUCKETS / 86400) * 86400)
    slots = max(1, math.ceil((now - since) / width))
    ban_slots, failure_slots = [0] * slots, [0] * slots
    for stored in bans:
        ban_slots[_slot(stored.ban.start, since, width, slots)] += 1
    vhosts: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    by_network: Counter[str] = Counter()
    for ban_id, line in evidence:
        if since <= line.time <= now:  # evidence may predate the period (slow attacks)
            failure_slots[_slot(line.time, since, width, slots)] += 1
        by_network[who[key_of[ban_id]].network_label()] += 1
        request = requests(line.line)
        if request is not None:
            vhost, path = request
            vhosts[vhost or _site_of(line.path)] += 1
            if path:
                paths[path] += 1

    jails = Counter(stored.ban.jail for stored in bans)
    asns = Counter(who[stored.ban.key].network_label() for stored in bans)
    countries = Counter(who[stored.ban.key].country or "unknown" for stored in bans)
    per_key: dict[str, list[str]] = defaultdict(list)
    for stored in bans:
        per_key[stored.ban.key].append(stored.ban.jail)
    offenders = sorted(((key, jails_of) for key, jails_of in per_key.items()
                        if len(jails_of) > 1), key=lambda item: (-len(item[1]), item[0]))
    return Report(
        since=since, until=now, bucket_seconds=width, bans=len(bans), failures=len(evidence),
        addresses=len(per_key),
        timeline=tuple(TimeBucket(since + n * width, ban_slots[n], failure_slots[n])
                       for n in range(slots)),
        top_jails=_top(jails, top), top_asns=_top(asns, top),
        top_countries=_top(countries, top), top_vhosts=_top(vhosts, top),
        top_paths=_top(paths, top),
        repeat_offenders=tuple(
            Offender(key, len(jails_of), tuple(sorted(set(jails_of))),
                     who[key].network_label(), who[key].country)
            for key, jails_of in offenders[:top]),
        network_share=_top(by_network, top),
    )


def _slot(when: float, since: float, width: int, slots: int) -> int:
    return min(slots - 1, max(0, int((when - since) // width)))


def _top(counter: Counter[str], top: int) -> tuple[Count, ...]:
    total = sum(counter.values()) or 1
    return tuple(Count(label, value, value / total)
                 for label, value in sorted(counter.items(), key=lambda i: (-i[1], i[0]))[:top])


def _site_of(path: str) -> str:
    """The site a log file belongs to: the folder above logs/ (…/SITE/logs/access.log)."""
    parts = PurePath(path).parts
    for index in range(len(parts) - 2, 0, -1):
        if parts[index] in ("logs", "log"):
            return parts[index - 1]
    return path
