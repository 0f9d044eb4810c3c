"""Fleet-scope windows: a jail's failures counted in Redis across every node of the fleet.

`FleetWindows` stands in for a jail's `SlidingWindows`. It still counts on this node (so a
node cut off from Redis keeps deciding alone) and collects each failure for the fleet;
`FleetCounter.flush` sends everything collected since the last flush in one pipelined round
trip — one Lua call per key, however many lines — and returns the keys whose fleet-wide
window reached maxretry. The Lua script is atomic, so exactly one node sees a key cross.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence

import redis.asyncio as aioredis

from floodwall.detection.windows import Crossing, SlidingWindows
from floodwall.model import Decision, Failure
from floodwall.settings.durations import format_duration

MAX_PENDING = 100_000
"""Failures held for the fleet between two flushes; beyond that (Redis away) only local
counting goes on."""

_COUNT = """
local maxretry, findtime = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(newest) - findtime)
local count = redis.call('ZCARD', KEYS[1])
if count >= maxretry then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], math.ceil(findtime * 1000))
end
return count
"""


class FleetWindows:
    """A jail's windows counted on this node and, batched, in the fleet's Redis."""

    def __init__(self, jail: str, local: SlidingWindows,
                 on_pending: Callable[[], None] = lambda: None) -> None:
        self.jail = jail
        self.local = local
        """This node's own count, which decides alone when Redis is away."""
        self.on_pending = on_pending
        """Called when failures wait for a flush (the node wakes its counting task)."""
        self._pending: dict[str, list[Failure]] = {}
        self._held = 0
        self._forgotten: set[str] = set()

    def reconfigure(self, maxretry: int, findtime: float, max_keys: int | None) -> None:
        """Count on under new settings (a reload): here, and in the fleet from the next flush."""
        self.local.reconfigure(maxretry, findtime, max_keys)

    def add(self, failure: Failure) -> Crossing | None:
        """Count a failure here and hold it for the fleet; the local crossing if it crossed."""
        crossing = self.local.add(failure)
        if crossing is not None:
            self._held -= len(self._pending.pop(failure.key, ()))
            return crossing
        if self._held < MAX_PENDING:
            self._pending.setdefault(failure.key, []).append(failure)
            self._held += 1
            self.on_pending()
        return None

    def count(self, key: str) -> int:
        """Failures in this node's window of the key."""
        return self.local.count(key)

    def forget(self, key: str) -> None:
        """The key was banned: its count starts over here and, at the next flush, in Redis."""
        self.local.forget(key)
        self._held -= len(self._pending.pop(key, ()))
        self._forgotten.add(key)
        self.on_pending()

    def expire(self, now: float) -> int:
        """Release this node's emptied windows (Redis expires its own)."""
        return self.local.expire(now)

    def __len__(self) -> int:
        return len(self.local)

    def keys(self) -> Iterator[str]:
        """Keys with a non-empty window on this node."""
        return self.local.keys()

    def export(self) -> Iterator[tuple[str, list[float], list[Failure]]]:
        """This node's own windows, to keep across a restart (the fleet's are in Redis)."""
        return self.local.export()

    def restore(self, key: str, times: list[float], evidence: list[Failure]) -> None:
        """Take back one of this node's windows after a restart."""
        self.local.restore(key, times, evidence)

    def take(self) -> tuple[dict[str, list[Failure]], set[str]]:
        """Hand over the failures held and the keys forgotten since the last call."""
        pending, forgotten = self._pending, self._forgotten
        self._pending, self._held, self._forgotten = {}, 0, set()
        return pending, forgotten


class FleetCounter:
    """Flushes fleet windows to Redis and turns fleet-wide crossings into decisions."""

    def __init__(self, client: aioredis.Redis, prefix: str, node: str) -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_COUNT)
        # Members must be unique in the fleet, also across restarts of this node.
        self._member = f"{node}:{secrets.token_hex(4)}:"
        self._seq = 0

    def window_key(self, jail: str, key: str) -> str:
        """Redis key of a jail's fleet window for a key."""
        return f"{self.prefix}count:{jail}:{key}"

    async def flush(self, windows: Sequence[FleetWindows]) -> list[Decision]:
        """Send every held failure in one round trip; the decisions of keys that crossed."""
        batches: list[tuple[FleetWindows, str, list[Failure]]] = []
        stale: list[str] = []
        for fleet in windows:
            pending, forgotten = fleet.take()
            stale += [self.window_key(fleet.jail, key) for key in forgotten]
            batches += [(fleet, key, failures) for key, failures in pending.items()]
        if not batches and not stale:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            if stale:  # first: a key banned and failing again in one batch starts over
                pipe.delete(*stale)
            for fleet, key, failures in batches:
                args: list[str | int | float] = [fleet.local.maxretry, fleet.local.findtime]
                for failure in failures:
                    self._seq += 1
                    args += [repr(failure.time), f"{self._member}{self._seq}"]
                await self._script(keys=[self.window_key(fleet.jail, key)], args=args,
                                   client=pipe)
            results = await pipe.execute()
        counts = results[1:] if stale else results
        return [_decision(fleet, key, failures, int(count))
                for (fleet, key, failures), count in zip(batches, counts, strict=True)
                if int(count) >= fleet.local.maxretry]


def _decision(fleet: FleetWindows, key: str, failures: list[Failure], count: int) -> Decision:
    reason = (f"{count} failures across the fleet within "
              f"{format_duration(fleet.local.findtime)}, limit {fleet.local.maxretry}")
    fleet.local.forget(key)
    return Decision(fleet.jail, key, max(f.time for f in failures), reason, tuple(failures),
                    count)
