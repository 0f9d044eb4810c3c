"""Tests of fleet-scope windows: counts shared in a real Redis, one round trip per batch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from floodwall.cluster.connection import connect
from floodwall.cluster.counting import FleetCounter, FleetWindows
from floodwall.detection.windows import SlidingWindows
from floodwall.model import Failure
from floodwall.settings.values import ClusterConfig
from tests.support.redis_server import RedisServer

T0 = 1_800_000_000.0
ATTACKER = "203.0.113.9"


def _failure(key: str, time: float) -> Failure:
    return Failure("dos", key, time, "/var/log/access.log", 1, "GET /x 404")


def _windows(maxretry: int, findtime: float = 300.0) -> FleetWindows:
    return FleetWindows("dos", SlidingWindows(maxretry, findtime))


def _run(server: RedisServer, nodes: int,
         body: Callable[[list[FleetCounter]], Awaitable[None]]) -> None:
    async def main() -> None:
        clients = [connect(ClusterConfig(url=server.url, node=f"gw{n}")) for n in range(nodes)]
        try:
            await body([FleetCounter(client, "floodwall:t:", f"gw{n}")
                        for n, client in enumerate(clients)])
        finally:
            for client in clients:
                await client.aclose()
    asyncio.run(asyncio.wait_for(main(), 30))


def test_three_nodes_below_the_limit_each_cross_it_together(redis_server: RedisServer) -> None:
    async def body(counters: list[FleetCounter]) -> None:
        windows = [_windows(301) for _ in counters]
        decisions = []
        for step in range(120):  # 120 failing requests through each node, interleaved
            for node, (counter, fleet) in enumerate(zip(counters, windows, strict=True)):
                assert fleet.add(_failure(ATTACKER, T0 + step + node / 10)) is None
                if step % 40 == 39:  # each node flushes once per batch of 40 lines
                    decisions += await counter.flush([fleet])
        assert [(d.jail, d.key) for d in decisions] == [("dos", ATTACKER)]
        # Counted per batch: the batch that crosses 300 decides, on whichever node sent it.
        assert "320 failures across the fleet within 5m, limit 301" in decisions[0].reason
        assert len(decisions[0].failures) == 40  # this node's batch, kept as evidence
        # No node alone reached the limit; the deciding one starts over.
        assert [fleet.count(ATTACKER) for fleet in windows] == [120, 0, 120]

    _run(redis_server, 3, body)


def test_a_batch_is_one_script_call_per_key_not_per_line(redis_server: RedisServer) -> None:
    async def body(counters: list[FleetCounter]) -> None:
        fleet = _windows(10_000)
        for n in range(500):
            fleet.add(_failure(f"198.51.100.{n % 5}", T0 + n / 100))
        redis_server.client().config_resetstat()
        assert await counters[0].flush([fleet]) == []
        stats = redis_server.client().info("commandstats")
        assert stats["cmdstat_evalsha"]["calls"] == 5
        assert redis_server.client().zcard(counters[0].window_key("dos", "198.51.100.0")) == 100
        assert await counters[0].flush([fleet]) == []  # nothing held: no round trip at all

    _run(redis_server, 1, body)


def test_only_failures_within_findtime_count(redis_server: RedisServer) -> None:
    async def body(counters: list[FleetCounter]) -> None:
        first, second = _windows(4, findtime=60), _windows(4, findtime=60)
        for n in range(3):
            first.add(_failure(ATTACKER, T0 + 10 * n))
        assert await counters[0].flush([first]) == []
        second.add(_failure(ATTACKER, T0 + 61))  # the first failure is out of the window
        assert await counters[1].flush([second]) == []
        second.add(_failure(ATTACKER, T0 + 62))
        decisions = await counters[1].flush([second])
        assert [d.key for d in decisions] == [ATTACKER] and decisions[0].time == T0 + 62

    _run(redis_server, 2, body)


def test_a_node_alone_still_decides_and_a_ban_resets_the_fleet_count(
        redis_server: RedisServer) -> None:
    async def body(counters: list[FleetCounter]) -> None:
        fleet = _windows(3)
        woken = []
        fleet.on_pending = lambda: woken.append(1)
        fleet.add(_failure(ATTACKER, T0))
        assert woken and await counters[0].flush([fleet]) == []
        fleet.add(_failure(ATTACKER, T0 + 1))
        crossing = fleet.add(_failure(ATTACKER, T0 + 2))  # Redis not asked: local decision
        assert crossing is not None and crossing.count == 3
        key = counters[0].window_key("dos", ATTACKER)
        assert redis_server.client().zcard(key) == 1
        fleet.forget(ATTACKER)  # the ban arrived: the fleet count starts over too
        assert await counters[0].flush([fleet]) == []
        assert redis_server.client().exists(key) == 0
        fleet.reconfigure(5, 60.0, 1000)  # a reload changes the rule of the local count
        local = fleet.local
        assert (local.maxretry, local.findtime, local.max_keys) == (5, 60.0, 1000)
        assert len(fleet) == 0

    _run(redis_server, 1, body)
