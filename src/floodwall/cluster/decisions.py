"""The fleet's decisions in Redis: a stream every node follows, and a hash of the active bans.

Keys (prefix `floodwall:FLEET:`): `decisions` is the stream of ban and unban decisions in
the order the fleet learnt them; `bans` maps "jail|key" to the longest active ban, the
authoritative fleet state a node catches up from; `lifted` maps "jail|key" to the time of
its latest unban, so a ban decided before that (a node re-sending its bans after an outage
during which another node lifted one) is not taken again. Publishing is one Lua script per decision,
so the stream only gets a ban that changes the state: a decision published twice (a node
that crashed after publishing, before forgetting its queue) is not seen twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import redis.asyncio as aioredis

from floodwall.model import Ban

STREAM_MAXLEN = 100_000
"""Decisions kept in the stream (approximately); older ones live on in the state hash."""

_PUBLISH = """
local field, decision, action = ARGV[1], ARGV[2], ARGV[3]
local lifted = redis.call('HGET', KEYS[3], field)
if action == 'ban' then
  if lifted and tonumber(ARGV[6]) <= tonumber(lifted) then
    return 0
  end
  local old = redis.call('HGET', KEYS[1], field)
  if old then
    local old_until = cjson.decode(old)['until']
    if old_until == cjson.null or (ARGV[4] ~= '' and tonumber(ARGV[4]) <= old_until) then
      return 0
    end
  end
  redis.call('HSET', KEYS[1], field, decision)
else
  redis.call('HDEL', KEYS[1], field)
  if not lifted or tonumber(ARGV[6]) > tonumber(lifted) then
    redis.call('HSET', KEYS[3], field, ARGV[6])
  end
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'd', decision)
return 1
"""
_ACTIVE = """
local now, active = tonumber(ARGV[1]), {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ends = cjson.decode(all[i + 1])['until']
  if ends ~= cjson.null and ends <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    active[#active + 1] = all[i + 1]
  end
end
return active
"""


@dataclass(frozen=True, slots=True)
class FleetDecision:
    """One ban or unban as the fleet shares it."""

    action: Literal["ban", "unban"]
    """'ban' adds or extends; 'unban' lifts the key's ban in that jail everywhere."""
    jail: str
    """Jail of the ban (or 'manual')."""
    key: str
    """Address or prefix."""
    origin: str
    """Name of the node that decided."""
    time: float
    """When the node decided (unix time)."""
    until: float | None = None
    """End of the ban; None for a permanent one (bans only)."""
    count: int = 0
    """Failures that caused the ban."""
    reason: str = ""
    """Why, for operators."""

    @classmethod
    def ban(cls, ban: Ban, node: str) -> FleetDecision:
        """The decision sharing a ban this node made."""
        return cls("ban", ban.jail, ban.key, node, ban.start, ban.until, ban.count, ban.reason)

    @classmethod
    def unban(cls, ban: Ban, node: str, now: float) -> FleetDecision:
        """The decision sharing that this node lifted a ban early."""
        return cls("unban", ban.jail, ban.key, node, now, reason=f"lifted early on {node}")

    def to_ban(self) -> Ban:
        """The ban a node records for a fleet ban decision (its origin is the deciding node)."""
        return Ban(self.key, self.jail, self.time, self.until, self.count, self.origin,
                   self.reason)

    def to_json(self) -> str:
        """Compact JSON text of the decision."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FleetDecision:
        """Read a decision back from its JSON text."""
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


class DecisionStream:
    """Publishes, follows and summarises a fleet's decisions in one Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.stream = f"{prefix}decisions"
        self.state = f"{prefix}bans"
        self.lifted = f"{prefix}lifted"
        self._publish = client.register_script(_PUBLISH)
        self._active = client.register_script(_ACTIVE)

    async def publish(self, decisions: Sequence[FleetDecision]) -> int:
        """Publish decisions in order (one round trip); returns how many changed the fleet."""
        if not decisions:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for decision in decisions:
                until = "" if decision.until is None else repr(decision.until)
                await self._publish(
                    keys=[self.state, self.stream, self.lifted], client=pipe, args=[
                        f"{decision.jail}|{decision.key}", decision.to_json(), decision.action,
                        until, STREAM_MAXLEN, repr(decision.time)])
            results = await pipe.execute()
        return sum(int(result) for result in results)

    async def active(self, now: float) -> list[FleetDecision]:
        """The fleet's active bans (ended ones are dropped from the state on the way)."""
        return [FleetDecision.from_json(text)
                for text in await self._active(keys=[self.state], args=[repr(now)])]

    async def lifted_at(self, bans: Sequence[Ban]) -> list[float | None]:
        """For each ban, when the fleet last lifted its jail and key (None: never)."""
        if not bans:
            return []
        answer: Any = await self.client.hmget(self.lifted,
                                              [f"{ban.jail}|{ban.key}" for ban in bans])
        return [None if value is None else float(value) for value in answer]

    async def last_id(self) -> str:
        """ID of the newest decision ever added ("0-0" when the stream does not exist)."""
        try:
            info = await self.client.xinfo_stream(self.stream)
        except aioredis.ResponseError:  # no such key
            return "0-0"
        return str(info["last-generated-id"])

    async def between(self, after: str, upto: str) -> list[tuple[str, FleetDecision]]:
        """Decisions with IDs in (after, upto], oldest first."""
        if stream_id(upto) <= stream_id(after):
            return []
        entries: Any = await self.client.xrange(self.stream, f"({after}", upto)
        return [(entry_id, FleetDecision.from_json(fields["d"])) for entry_id, fields in entries]

    async def follow(self, after: str, block: float, count: int = 1000
                     ) -> list[tuple[str, FleetDecision]]:
        """Decisions after `after`, waiting up to `block` seconds for the first one."""
        answer: Any = await self.client.xread({self.stream: after}, count=count,
                                              block=max(1, int(block * 1000)))
        return [(str(entry_id), FleetDecision.from_json(fields["d"]))
                for _, entries in answer or () for entry_id, fields in entries]


def stream_id(text: str) -> tuple[int, int]:
    """A stream entry ID as a comparable (milliseconds, sequence) pair."""
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)
