"""fail2ban's cache of multi-line tickets (<F-MLFID>), and the check that a run which began
from a guessed cache went exactly as it would have from the true one."""

from __future__ import annotations

import copy
import sys
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from floodwall.clock import Clock

CAPACITY = 100
"""Tickets kept at most (fail2ban's mlfid cache)."""
SECONDS = 300.0
"""How long a ticket lives."""

# One ticket as a snapshot holds it: (mlfid, ticket, expiry).
Ticket = tuple[str, dict[str, Any], float]

_HIT, _MISS, _SET, _DISCARD = range(4)


@dataclass(slots=True)
class TicketJournal:
    """What a run did to its cache, key by key, to be replayed on another starting cache
    (kept as flat arrays: a worker sends it to the process that checks it)."""

    kinds: bytearray = field(default_factory=bytearray)
    """Per operation: a lookup that found a ticket, one that did not, an insertion, a
    removal."""
    keys: list[str] = field(default_factory=list)
    """Per operation, the mlfid (interned: each is pickled once)."""
    times: array[float] = field(default_factory=lambda: array("d"))
    """Per operation, the clock's time."""
    first_found: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    """Tickets the run found without having made them: the ticket and expiry its first
    lookup found (copies)."""
    made: set[str] = field(default_factory=set)
    """Keys whose ticket the run made."""

    def add(self, kind: int, key: str, now: float) -> None:
        """Record one operation."""
        self.kinds.append(kind)
        self.keys.append(sys.intern(key))
        self.times.append(now)


class TicketCache:
    """At most `capacity` tickets, oldest evicted first, each living `seconds`.

    `record()` starts a journal of every operation (see `replay`).
    """

    def __init__(self, clock: Clock, capacity: int = CAPACITY, seconds: float = SECONDS) -> None:
        self._clock = clock
        self._capacity = capacity
        self._seconds = seconds
        self._items: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()
        self._journal: TicketJournal | None = None

    def get(self, key: str) -> dict[str, Any] | None:
        """The live ticket of `key`, or None (an expired one is dropped)."""
        item = self._items.get(key)
        journal = self._journal
        if journal is not None:
            now = self._clock.now()
            found = item is not None and item[1] > now
            journal.add(_HIT if found else _MISS, key, now)
            if found and key not in journal.made and key not in journal.first_found:
                assert item is not None
                journal.first_found[key] = (copy.deepcopy(item[0]), item[1])
        if item is None:
            return None
        if item[1] > self._clock.now():
            return item[0]
        del self._items[key]
        return None

    def set(self, key: str, value: dict[str, Any]) -> None:
        """Keep `value` as the ticket of `key` (a key without a live ticket)."""
        now = self._clock.now()
        if self._journal is not None:
            self._journal.add(_SET, key, now)
            self._journal.made.add(key)
        if len(self._items) >= self._capacity:
            while self._items:
                _, (_, expires) = self._items.popitem(last=False)
                if expires > now and len(self._items) < self._capacity:
                    break
        self._items[key] = (value, now + self._seconds)

    def discard(self, key: str) -> None:
        """Forget the ticket of `key`."""
        if self._journal is not None:
            self._journal.add(_DISCARD, key, self._clock.now())
        self._items.pop(key, None)

    def snapshot(self) -> list[Ticket]:
        """The tickets, oldest first, as independent copies."""
        return [(key, copy.deepcopy(value), expires)
                for key, (value, expires) in self._items.items()]

    def adopt(self, tickets: list[Ticket]) -> None:
        """Hold exactly `tickets` (a snapshot), oldest first."""
        self._items = OrderedDict((key, (copy.deepcopy(value), expires))
                                  for key, value, expires in tickets)

    def record(self) -> None:
        """Start a new journal of operations."""
        self._journal = TicketJournal()

    def journal(self) -> TicketJournal:
        """The journal since `record()` (empty if never started)."""
        return self._journal or TicketJournal()

    def replay(self, start: list[Ticket], journal: TicketJournal,
               end: list[Ticket]) -> list[Ticket] | None:
        """The tickets a run of `journal` leaves when it begins from `start` instead of the
        cache it really began from (which left `end`); None if that run would have gone
        differently: a lookup finding a ticket the other did not, a ticket found with other
        content, or a ticket the journal's run evicted that this one keeps."""
        items = OrderedDict((key, expires) for key, _value, expires in start)
        started = {key: (value, expires) for key, value, expires in start}
        fresh: set[str] = set()  # keys whose ticket was made during the run
        compared: set[str] = set()  # keys found as they were in `start`
        for kind, key, now in zip(journal.kinds, journal.keys, journal.times, strict=False):
            if kind == _SET:
                if len(items) >= self._capacity:
                    while items:
                        _, evicted = items.popitem(last=False)
                        if evicted > now and len(items) < self._capacity:
                            break
                items[key] = now + self._seconds
                fresh.add(key)
            elif kind == _DISCARD:
                items.pop(key, None)
            else:
                held = items.get(key)
                found = held is not None and held > now
                if held is not None and not found:
                    del items[key]
                if found != (kind == _HIT):
                    return None
                if found and key not in fresh and key not in compared:
                    if journal.first_found.get(key) != started[key]:
                        return None
                    compared.add(key)
        ended = {key: (value, expires) for key, value, expires in end}
        touched = journal.made | journal.first_found.keys()
        tickets: list[Ticket] = []
        for key in items:
            if key in touched:
                if key not in ended:
                    return None
                value, expires = ended[key]
            else:
                value, expires = started[key]
            tickets.append((key, value, expires))
        return tickets
