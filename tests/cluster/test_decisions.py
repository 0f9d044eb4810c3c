"""Tests of the decision stream and the fleet state in a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from floodwall.cluster.connection import connect
from floodwall.cluster.decisions import DecisionStream, FleetDecision, stream_id
from floodwall.model import Ban
from floodwall.settings.values import ClusterConfig
from tests.support.redis_server import RedisServer

NOW = 1_800_000_000.0


def _run(server: RedisServer, body: Callable[[DecisionStream], Awaitable[None]]) -> None:
    async def main() -> None:
        client = connect(ClusterConfig(url=server.url, node="gw1", fleet="t"))
        try:
            await body(DecisionStream(client, "floodwall:t:"))
        finally:
            await client.aclose()
    asyncio.run(asyncio.wait_for(main(), 30))


def _ban(key: str, until: float | None, node: str = "gw1") -> FleetDecision:
    return FleetDecision.ban(Ban(key, "web", NOW, until, 5, "local", "5 failures"), node)


def test_a_decision_round_trips_through_json_and_back_to_a_ban() -> None:
    decision = _ban("192.0.2.7", NOW + 60)
    assert FleetDecision.from_json(decision.to_json()) == decision
    assert decision.to_ban() == Ban("192.0.2.7", "web", NOW, NOW + 60, 5, "gw1", "5 failures")


def test_publishing_is_idempotent_longer_extends_shorter_never_shortens(
        redis_server: RedisServer) -> None:
    async def body(stream: DecisionStream) -> None:
        assert await stream.last_id() == "0-0"
        assert await stream.publish([_ban("192.0.2.7", NOW + 60)]) == 1
        assert await stream.publish([_ban("192.0.2.7", NOW + 60)]) == 0  # seen twice
        assert await stream.publish([_ban("192.0.2.7", NOW + 30, "gw2")]) == 0  # shorter
        assert await stream.publish([_ban("192.0.2.7", NOW + 90, "gw2")]) == 1  # longer
        assert await stream.publish([_ban("192.0.2.7", None, "gw3")]) == 1  # permanent
        assert await stream.publish([_ban("192.0.2.7", NOW + 10**6)]) == 0
        active = await stream.active(NOW)
        assert [(d.key, d.until, d.origin) for d in active] == [("192.0.2.7", None, "gw3")]
        entries = await stream.between("0-0", await stream.last_id())
        assert [(d.origin, d.until) for _, d in entries] == [
            ("gw1", NOW + 60), ("gw2", NOW + 90), ("gw3", None)]

    _run(redis_server, body)


def test_unban_clears_the_state_and_expired_bans_are_dropped(redis_server: RedisServer) -> None:
    async def body(stream: DecisionStream) -> None:
        await stream.publish([_ban("192.0.2.7", NOW + 60), _ban("192.0.2.8", NOW + 5),
                              _ban("2001:db8::/64", NOW + 60)])
        unban = FleetDecision.unban(Ban("192.0.2.7", "web", NOW, NOW + 60), "gw2", NOW + 1)
        assert await stream.publish([unban]) == 1
        active = await stream.active(NOW + 10)  # 192.0.2.8 ended at NOW + 5
        assert [d.key for d in active] == ["2001:db8::/64"]
        assert redis_server.client().hlen("floodwall:t:bans") == 1  # pruned in Redis

    _run(redis_server, body)


def test_a_ban_decided_before_its_unban_is_not_taken_again(redis_server: RedisServer) -> None:
    async def body(stream: DecisionStream) -> None:
        ban = _ban("192.0.2.7", NOW + 600)  # decided at NOW
        assert await stream.publish([ban]) == 1
        unban = FleetDecision.unban(Ban("192.0.2.7", "web", NOW, NOW + 600), "gw2", NOW + 5)
        assert await stream.publish([unban]) == 1
        # gw1 comes back from an outage and sends its active bans again: not news
        assert await stream.publish([ban]) == 0
        assert await stream.active(NOW + 10) == []
        newer = FleetDecision.ban(Ban("192.0.2.7", "web", NOW + 20, NOW + 620, 5), "gw3")
        assert await stream.publish([newer]) == 1  # a ban decided after the unban counts
        assert [d.origin for d in await stream.active(NOW + 30)] == ["gw3"]
        entries = await stream.between("0-0", await stream.last_id())
        assert [(d.action, d.origin) for _, d in entries] == [
            ("ban", "gw1"), ("unban", "gw2"), ("ban", "gw3")]

    _run(redis_server, body)


def test_follow_waits_for_new_decisions_and_between_is_exclusive(
        redis_server: RedisServer) -> None:
    async def body(stream: DecisionStream) -> None:
        await stream.publish([_ban("192.0.2.1", NOW + 60)])
        first = await stream.last_id()
        assert await stream.follow(first, block=0.05) == []  # nothing new: waits, returns
        waiting = asyncio.ensure_future(stream.follow(first, block=5))
        await asyncio.sleep(0)
        other = DecisionStream(connect(ClusterConfig(url=redis_server.url, node="gw2",
                                                     fleet="t")), "floodwall:t:")
        await other.publish([_ban("192.0.2.2", NOW + 60, "gw2")])
        await other.client.aclose()
        entries = await asyncio.wait_for(waiting, 5)
        assert [(d.key, d.origin) for _, d in entries] == [("192.0.2.2", "gw2")]
        assert [d.key for _, d in await stream.between("0-0", first)] == ["192.0.2.1"]
        assert await stream.between(first, first) == []
        assert stream_id(entries[0][0]) > stream_id(first)

    _run(redis_server, body)
