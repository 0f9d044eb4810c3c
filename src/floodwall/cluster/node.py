"""The cluster addon: this node's decisions out to the fleet, the fleet's decisions in.

Every ban and unban this node makes is queued in its database and published by a
background task; the fleet's decisions are followed from a Redis stream and applied through
the daemon's own ban path with the deciding node as origin, so they are never published
back. On each (re)connection the node publishes what it queued, replays what it missed,
re-asserts its own active bans (Redis may have lost them) and applies the fleet's state.
The daemon never waits for Redis: when it is away, the node bans alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from floodwall.bans.addons import Addon, AddonHost
from floodwall.cluster.connection import connect, explain
from floodwall.cluster.counting import FleetCounter, FleetWindows
from floodwall.cluster.decisions import DecisionStream, FleetDecision, stream_id
from floodwall.cluster.queue import DecisionQueue
from floodwall.model import Ban, Failure
from floodwall.settings.values import ClusterConfig

if TYPE_CHECKING:
    import redis.asyncio as aioredis

log = logging.getLogger("floodwall.cluster")
RECONNECT_FIRST = 0.1
"""Seconds before the first reconnection attempt; doubled up to RECONNECT_MAX."""
RECONNECT_MAX = 2.0
FOLLOW_BLOCK = 1.0
"""Seconds one stream read waits for new decisions."""
COUNT_INTERVAL = 1.0
"""Seconds between two checks for fleet-scope jails added by a reload."""
STOP_ATTEMPTS = 30
"""Times on_stop cancels the background task, 0.1 s apart, before leaving it to end."""
LOCAL_ORIGINS = frozenset({"local", "manual"})
"""Origins of the bans this node made itself."""


class ClusterNode(Addon):
    """Addon sharing bans, unbans and fleet-scope counts with the fleet through Redis."""

    def __init__(self, config: ClusterConfig, source: str = "the configuration") -> None:
        self.config = config
        self.source = source
        """The configuration file, named in error messages."""
        self.connected = False
        self.error: str | None = None
        """Why Redis cannot be used right now (None while connected)."""
        self.nodes: dict[str, dict[str, Any]] = {}
        """Last heartbeat of every node of the fleet, by name."""
        self.lag: float | None = None
        """Seconds between the newest decision in the stream and the last one applied."""
        self.cursor: str | None = None
        """ID of the last stream entry applied."""
        self._host: AddonHost | None = None
        self._queue: DecisionQueue | None = None
        self._windows: list[FleetWindows] = []
        self._remote = False
        self._publish_wanted = asyncio.Event()
        self._count_wanted = asyncio.Event()
        self._delay = RECONNECT_FIRST
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def _cursor_key(self) -> str:
        return f"cluster.{self.config.fleet}.cursor"

    # --- addon events -------------------------------------------------------------------

    async def on_start(self, host: AddonHost) -> None:
        """Install the fleet windows and start talking to Redis in the background."""
        self._host = host
        self._queue = DecisionQueue(host.database, self.config.fleet)
        self.cursor = host.database.get_meta(self._cursor_key)
        self._install_windows()
        self._task = asyncio.create_task(self._run(), name="floodwall-cluster")

    def on_ban(self, bans: Sequence[Ban]) -> None:
        """Queue this node's bans for the fleet (bans applied from the fleet are not)."""
        if self._remote or self._queue is None:
            return
        self._queue.put([FleetDecision.ban(ban, self.config.node) for ban in bans])
        self._publish_wanted.set()

    def on_unban(self, bans: Sequence[Ban]) -> None:
        """Queue this node's early unbans for the fleet."""
        if self._remote or self._queue is None or self._host is None:
            return
        now = self._host.clock.now()
        self._queue.put([FleetDecision.unban(ban, self.config.node, now) for ban in bans])
        self._publish_wanted.set()

    async def on_stop(self) -> None:
        """Stop the background task; what is queued stays in the database for next time."""
        self._stopping = True
        self._publish_wanted.set()
        if self._task is None:
            return
        # A cancellation racing a finishing Redis read can be lost (asyncio in 3.11): the
        # loops also end on _stopping, within one FOLLOW_BLOCK.
        for _ in range(STOP_ATTEMPTS):
            self._task.cancel()
            done, _ = await asyncio.wait([self._task], timeout=0.1)
            if done:
                break
        self._task = None

    def status(self) -> dict[str, Any]:
        """The fleet as this node sees it, for `floodwall status`."""
        own = self.config.node
        active = self._host.bans.ledger.active() if self._host else []
        by_origin = Counter(own if ban.origin in LOCAL_ORIGINS else ban.origin for ban in active)
        nodes = [{"name": name, "last_heartbeat": info.get("time"),
                  "advertise": info.get("advertise", []), "active_bans": info.get("active_bans")}
                 for name, info in sorted(self.nodes.items())]
        return {"cluster": {
            "node": own, "fleet": self.config.fleet, "redis": self.config.where(),
            "connected": self.connected, "error": self.error,
            "queued": len(self._queue) if self._queue is not None else 0,
            "stream_lag": self.lag, "nodes": nodes, "bans_by_origin": dict(by_origin)}}

    # --- the connection -----------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            client = connect(self.config)
            try:
                await self._session(client)
            except* (RedisError, OSError) as problems:
                self._lost(problems.exceptions[0])
            except* Exception as problems:  # a bug: logged with its traceback, then retried
                log.error("cluster: unexpected failure, reconnecting", exc_info=problems)
                self._lost(problems.exceptions[0])
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, RECONNECT_MAX)

    async def _session(self, client: aioredis.Redis) -> None:
        prefix = self.config.prefix()
        stream = DecisionStream(client, prefix)
        await client.ping()
        await self._publish_queued(stream)
        await self._catch_up(stream)
        if self.error is not None:
            log.warning("cluster: connected to Redis at %s again", self.config.where())
        else:
            log.info("cluster: node %s joined fleet %s at %s", self.config.node,
                     self.config.fleet, self.config.where())
        self.connected, self.error, self._delay = True, None, RECONNECT_FIRST
        async with asyncio.TaskGroup() as group:
            group.create_task(self._follow(stream))
            group.create_task(self._publish_loop(stream))
            group.create_task(self._count_loop(FleetCounter(client, prefix, self.config.node)))
            group.create_task(self._heartbeat_loop(client, stream))

    def _lost(self, problem: BaseException) -> None:
        message = explain(problem, self.config, self.source)
        if message != self.error:
            log.error("%s", message)
        self.error = message

    # --- decisions ----------------------------------------------------------------------

    async def _publish_queued(self, stream: DecisionStream) -> None:
        assert self._queue is not None
        while batch := self._queue.peek():
            await stream.publish([decision for _, decision in batch])
            self._queue.done([row_id for row_id, _ in batch])

    async def _publish_loop(self, stream: DecisionStream) -> None:
        while not self._stopping:
            self._publish_wanted.clear()
            await self._publish_queued(stream)
            await self._publish_wanted.wait()

    async def _catch_up(self, stream: DecisionStream) -> None:
        """Missed decisions in order, then our own bans again, then the fleet's state, then
        the bans the fleet lifted after they were made (their unbans may have been trimmed
        from the stream while this node was away)."""
        assert self._host is not None
        newest = await stream.last_id()
        if self.cursor is not None and stream_id(self.cursor) <= stream_id(newest):
            missed = await stream.between(self.cursor, newest)
            self._apply([decision for _, decision in missed], skip_own=True)
        own = [FleetDecision.ban(ban, self.config.node)
               for ban in self._host.bans.ledger.active() if ban.origin in LOCAL_ORIGINS]
        await stream.publish(own)
        self._apply(await stream.active(self._host.clock.now()), skip_own=False)
        await self._lift_what_the_fleet_lifted(stream)
        self._set_cursor(newest)

    async def _lift_what_the_fleet_lifted(self, stream: DecisionStream) -> None:
        """Lift (without publishing again) each active ban made no later than the fleet's
        latest unban of its jail and key: Redis refuses such a ban, so no node keeps it."""
        host = self._host
        assert host is not None
        active = host.bans.ledger.active()
        stale = [ban for ban, lifted in zip(active, await stream.lifted_at(active), strict=True)
                 if lifted is not None and ban.start <= lifted]
        now = host.clock.now()
        self._remote = True
        try:
            for ban in stale:
                host.bans.lift(ban.key, now, "unbanned in the fleet while this node was away",
                               ban.jail)
        finally:
            self._remote = False

    async def _follow(self, stream: DecisionStream) -> None:
        while not self._stopping:
            entries = await stream.follow(self.cursor or "0-0", FOLLOW_BLOCK)
            if entries:
                self._apply([decision for _, decision in entries], skip_own=True)
                self._set_cursor(entries[-1][0])

    def _apply(self, decisions: Sequence[FleetDecision], *, skip_own: bool) -> None:
        """Fleet decisions through the daemon's ban path, in order, without re-publishing."""
        host = self._host
        assert host is not None
        service, now = host.bans, host.clock.now()
        bans: list[tuple[Ban, Sequence[Failure]]] = []
        self._remote = True
        try:
            for decision in decisions:
                if skip_own and decision.origin == self.config.node:
                    continue
                if decision.action == "ban":
                    if (decision.until is None or decision.until > now) and \
                            service.policy.refusal(decision.key, decision.jail) is None:
                        bans.append((decision.to_ban(), ()))
                    continue
                service.apply(bans, now)
                bans = []
                service.lift(decision.key, now, f"unbanned on node {decision.origin}",
                               decision.jail)
            service.apply(bans, now)
        finally:
            self._remote = False

    def _set_cursor(self, entry_id: str) -> None:
        if entry_id != self.cursor:
            self.cursor = entry_id
            assert self._host is not None
            self._host.database.set_meta(self._cursor_key, entry_id)

    # --- counting -----------------------------------------------------------------------

    def _install_windows(self) -> None:
        """Fleet windows for the jails with scope = "fleet" (again after a reload)."""
        assert self._host is not None
        windows: list[FleetWindows] = []
        for jail in self._host.jails.values():
            current: Any = jail.windows  # FleetWindows stands in for SlidingWindows
            if jail.config.scope != "fleet":
                if isinstance(current, FleetWindows):
                    jail.windows = current.local
                continue
            if not isinstance(current, FleetWindows):
                current = FleetWindows(jail.name, current, self._count_wanted.set)
                jail.windows = current
            windows.append(current)
        self._windows = windows

    async def _count_loop(self, counter: FleetCounter) -> None:
        assert self._host is not None
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._count_wanted.wait(), COUNT_INTERVAL)
            self._count_wanted.clear()
            self._install_windows()
            decisions = await counter.flush(self._windows)
            if decisions:
                self._host.bans.decide(decisions, self._host.clock.now())

    # --- heartbeats ---------------------------------------------------------------------

    async def _heartbeat_loop(self, client: aioredis.Redis, stream: DecisionStream) -> None:
        assert self._host is not None
        key = f"{self.config.prefix()}nodes"
        while not self._stopping:
            beat = {"time": time.time(), "advertise": list(self.config.advertise),
                    "active_bans": len(self._host.bans.ledger.active()), "cursor": self.cursor}
            async with client.pipeline(transaction=False) as pipe:
                pipe.hset(key, self.config.node, json.dumps(beat))
                pipe.hgetall(key)
                _, nodes = await pipe.execute()
            self.nodes = {name: json.loads(text) for name, text in nodes.items()}
            self._protect_fleet()
            newest = stream_id(await stream.last_id())
            applied = stream_id(self.cursor or "0-0")
            self.lag = max(0.0, (newest[0] - applied[0]) / 1000) if newest > applied else 0.0
            await asyncio.sleep(self.config.heartbeat)

    def _protect_fleet(self) -> None:
        """The fleet's own gateways are never banned by this node."""
        assert self._host is not None
        self._host.bans.policy.protect({
            address: f"it is fleet node {name}" for name, info in self.nodes.items()
            for address in info.get("advertise", ())})
