"""The ledger of bans: the active set in memory, every change written to the database first."""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import replace

from floodwall.model import Ban, Change, Failure
from floodwall.storage.database import Database, StoredBan


class Ledger:
    """Active bans by (jail, key); the database is written before any change is reported."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._active: dict[tuple[str, str], StoredBan] = {
            (stored.ban.jail, stored.ban.key): stored for stored in database.open_bans()}
        # Prefix bans are few: kept apart so a decision about an address checks only them.
        self._prefixes: dict[tuple[str, str], ipaddress.IPv4Network | ipaddress.IPv6Network] = {
            (jail, key): ipaddress.ip_network(key) for jail, key in self._active if "/" in key}
        self._group_of: Callable[[str], str | None] | None = None
        self._groups: dict[tuple[str, str], set[str]] = {}
        # (until, jail, key) of the bans that end, soonest first, so expiring looks only at
        # the due ones; an entry whose ban ended or was extended meanwhile is skipped.
        self._ends: list[tuple[float, str, str]] = [
            (stored.ban.until, jail, key) for (jail, key), stored in self._active.items()
            if stored.ban.until is not None]
        heapq.heapify(self._ends)

    def group_by(self, group_of: Callable[[str], str | None] | None) -> None:
        """Index the active bans by `group_of(key)` (e.g. the /24 holding an address; None:
        in no group) for `grouped_with`; None drops the index."""
        self._group_of, self._groups = group_of, {}
        for jail, key in self._active:
            self._index(jail, key)

    def grouped_with(self, ban: Ban) -> list[Ban]:
        """The active bans of `ban`'s jail that `group_by`'s function puts in its group
        (none without an index, or for a key in no group)."""
        group = self._group_of(ban.key) if self._group_of is not None else None
        keys = self._groups.get((ban.jail, group), ()) if group is not None else ()
        return [self._active[(ban.jail, key)].ban for key in keys]

    def active(self) -> list[Ban]:
        """Every active ban (including those past their end not yet expired)."""
        return [stored.ban for stored in self._active.values()]

    def find(self, key: str, jail: str | None = None) -> list[StoredBan]:
        """Active bans of a key (in one jail, or in all)."""
        return [s for (j, k), s in self._active.items() if k == key and jail in (None, j)]

    def is_banned(self, jail: str, key: str, now: float) -> bool:
        """True if the key, or a prefix holding it, has an active unexpired ban in that jail."""
        stored = self._active.get((jail, key))
        if stored is not None and (stored.ban.until is None or stored.ban.until > now):
            return True
        if not self._prefixes:
            return False
        try:
            address = ipaddress.ip_address(key.split("/")[0])
        except ValueError:
            return False
        for (prefix_jail, prefix), network in self._prefixes.items():
            if prefix_jail == jail and address in network:
                until = self._active[(prefix_jail, prefix)].ban.until
                if until is None or until > now:
                    return True
        return False

    def add(self, bans: Sequence[tuple[Ban, Sequence[Failure]]]) -> list[Change]:
        """Record bans; a ban of an already-banned key only ever extends it, never shortens."""
        new: list[tuple[Ban, Sequence[Failure]]] = []
        changes: list[Change] = []
        for ban, failures in bans:
            stored = self._active.get((ban.jail, ban.key))
            if stored is None:
                new.append((ban, failures))
                continue
            old = stored.ban
            if old.until is None or (ban.until is not None and ban.until <= old.until):
                continue
            extended = replace(old, until=ban.until, count=old.count + ban.count)
            self.database.extend_ban(stored.id, extended.until, extended.count)
            self._active[(ban.jail, ban.key)] = replace(stored, ban=extended)
            self._ends_at(extended)
            changes.append(Change("add", extended))
        for ban_id, (ban, _) in zip(self.database.add_bans(new), new, strict=True):
            self._active[(ban.jail, ban.key)] = StoredBan(ban_id, ban)
            self._ends_at(ban)
            if "/" in ban.key:
                self._prefixes[(ban.jail, ban.key)] = ipaddress.ip_network(ban.key)
            self._index(ban.jail, ban.key)
            changes.append(Change("add", ban))
        return changes

    def remove(self, key: str, now: float, reason: str, jail: str | None = None
               ) -> list[Change]:
        """End a key's active bans (in one jail or everywhere)."""
        ended = self.find(key, jail)
        return self._end(ended, now, reason)

    def expire(self, now: float) -> list[Change]:
        """End every ban whose time is over (soonest end first)."""
        due: dict[tuple[str, str], StoredBan] = {}
        ends = self._ends
        while ends and ends[0][0] <= now:
            until, jail, key = heapq.heappop(ends)
            stored = self._active.get((jail, key))
            if stored is not None and stored.ban.until == until:
                due[(jail, key)] = stored
        return self._end(list(due.values()), now, "expired")

    def _end(self, ended: list[StoredBan], now: float, reason: str) -> list[Change]:
        if not ended:
            return []
        self.database.end_bans((s.id for s in ended), now, reason)
        for stored in ended:
            jail, key = stored.ban.jail, stored.ban.key
            del self._active[(jail, key)]
            self._prefixes.pop((jail, key), None)
            group = self._group_of(key) if self._group_of is not None else None
            members = self._groups.get((jail, group)) if group is not None else None
            if group is not None and members is not None:
                members.discard(key)
                if not members:
                    del self._groups[(jail, group)]
        return [Change("remove", stored.ban) for stored in ended]

    def _ends_at(self, ban: Ban) -> None:
        if ban.until is not None:
            heapq.heappush(self._ends, (ban.until, ban.jail, ban.key))

    def _index(self, jail: str, key: str) -> None:
        if self._group_of is not None:
            group = self._group_of(key)
            if group is not None:
                self._groups.setdefault((jail, group), set()).add(key)
