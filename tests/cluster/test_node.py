"""Tests of the cluster addon: started daemons (recording firewalls) sharing a real Redis;
their log lines are fed to the ban path directly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from floodwall.cluster.node import ClusterNode
from floodwall.config.loader import load_config
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.server.daemon import Daemon
from tests.support.configs import floodwall_toml, scanner_jail
from tests.support.lines import access_line, source_lines
from tests.support.redis_server import SKIP_REASON, RedisServer
from tests.support.waiting import until


class Node:
    """One started daemon (system clock) with its cluster addon and recording firewall; its
    log lines are fed to the ban path directly, stamped now."""

    def __init__(self, root: Path, name: str, url: str, **cluster: object) -> None:
        self.root, self.name = root, name
        self.log = root / name / "access.log"
        self.log.parent.mkdir(exist_ok=True)
        self.log.touch()
        path = floodwall_toml(
            root / name,
            {"dos": scanner_jail(self.log, maxretry=9, scope="fleet")},  # 9 in 5 minutes
            floodwall={"protect_ssh_sessions": False},
            cluster={"url": url, "node": name, "fleet": "t", "heartbeat": 0.2, **cluster})
        self.config = load_config(path)
        assert self.config.cluster is not None
        self.cluster = ClusterNode(self.config.cluster, str(path))
        self.enforcer = RecordingEnforcer()
        self.daemon = Daemon(self.config, enforcer=self.enforcer, addons=[self.cluster])

    def banned(self, jail: str) -> list[str]:
        return self.enforcer.elements().get(jail, [])

    def origins(self) -> dict[str, str]:
        return {ban.key: ban.origin for ban in self.daemon.bans.ledger.active()}

    def fail(self, client: str, times: int) -> None:
        """`times` failing GETs of `client` in one batch of this node's log."""
        self.daemon.process(source_lines(self.log, access_line(client, "/x", agent="scanner")
                                         * times))

    async def ban(self, address: str, jail: str = "manual") -> None:
        await self.daemon.handle_request({"command": "ban", "address": address,
                                          "bantime": "10m", "jail": jail})

    async def unban(self, address: str) -> None:
        await self.daemon.handle_request({"command": "unban", "address": address})


def _fleet(tmp_path: Path, server: RedisServer, names: list[str],
           body: Callable[..., Awaitable[None]]) -> None:
    async def main() -> None:
        nodes = [Node(tmp_path, name, server.url) for name in names]
        for node in nodes:
            await node.daemon.start()
        try:
            await until(lambda: all(n.cluster.connected for n in nodes), "nodes to connect")
            await body(*nodes)
        finally:
            for node in nodes:
                await node.daemon.shutdown()
    asyncio.run(asyncio.wait_for(main(), timeout=60))


def _stream(server: RedisServer) -> list[dict[str, Any]]:
    import json
    return [json.loads(fields["d"]) for _, fields in
            server.client().xrange("floodwall:t:decisions")]


def test_a_ban_reaches_the_fleet_with_its_origin_and_an_unban_anywhere_lifts_it(
        tmp_path: Path, redis_server: RedisServer) -> None:
    async def body(one: Node, two: Node, three: Node) -> None:
        await one.ban("192.0.2.66")
        took = await until(lambda: two.banned("manual") == three.banned("manual") == [
            "192.0.2.66"], "the ban on every node")
        assert took < 1.0
        assert two.origins() == three.origins() == {"192.0.2.66": "gw1"}
        assert one.origins() == {"192.0.2.66": "manual"}
        # A decision applied elsewhere is never published back: the next decisions gw2 and
        # gw3 make follow gw1's in the stream directly (each node publishes in order).
        await two.ban("192.0.2.67", jail="dos")
        await three.ban("192.0.2.68", jail="dos")
        await until(lambda: len(_stream(redis_server)) >= 3, "the bans of gw2 and gw3")
        assert sorted((d["action"], d["key"], d["origin"]) for d in _stream(redis_server)) == [
            ("ban", "192.0.2.66", "gw1"), ("ban", "192.0.2.67", "gw2"),
            ("ban", "192.0.2.68", "gw3")]

        await three.unban("192.0.2.66")
        await until(lambda: not one.banned("manual") and not two.banned("manual"),
                    "the unban everywhere")
        ended = one.daemon.database.bans_of("192.0.2.66")[0]
        assert ended.end_reason == "unbanned on node gw3"
        await until(lambda: {n["name"] for n in two.cluster.status()["cluster"]["nodes"]}
                    == {"gw1", "gw2", "gw3"}, "heartbeats of all nodes")
        status = two.daemon.status()["cluster"]
        assert status["connected"] and status["error"] is None and status["queued"] == 0
        assert status["stream_lag"] == 0.0 and status["fleet"] == "t"

    _fleet(tmp_path, redis_server, ["gw1", "gw2", "gw3"], body)


def test_fleet_counting_bans_what_no_node_sees_enough_of(
        tmp_path: Path, redis_server: RedisServer) -> None:
    async def body(one: Node, two: Node, three: Node) -> None:
        for node in (one, two, three):  # 3 x 4 = 12 failures, limit 9, no node above 4
            node.fail("203.0.113.9", 4)
        await until(lambda: all(n.banned("dos") == ["203.0.113.9"] for n in (one, two, three)),
                    "the fleet-counted ban on every node")
        bans = [b for b in _stream(redis_server) if b["action"] == "ban"]
        assert len(bans) == 1 and "across the fleet" in bans[0]["reason"]
        status = one.daemon.status()
        assert status["cluster"]["bans_by_origin"] == {bans[0]["origin"]: 1}

    _fleet(tmp_path, redis_server, ["gw1", "gw2", "gw3"], body)


def test_partition_queues_then_reconciles_with_nothing_lost_or_duplicated(
        tmp_path: Path, redis_server: RedisServer) -> None:
    async def body(one: Node, two: Node) -> None:
        await one.ban("203.0.113.101")  # known to the fleet before the outage
        await until(lambda: two.banned("manual") == ["203.0.113.101"], "the first ban")
        await asyncio.to_thread(redis_server.stop)  # Redis loses everything it had
        await until(lambda: not one.cluster.connected and not two.cluster.connected,
                    "both nodes to notice")
        await one.ban("203.0.113.102")
        for _ in range(3):
            two.fail("203.0.113.5", 3)  # 9 failures: a local decision, Redis or not
        await until(lambda: two.banned("dos") == ["203.0.113.5"], "the local ban on gw2")
        assert len(one.cluster._queue or []) >= 1
        status = one.daemon.status()["cluster"]
        assert not status["connected"] and "unreachable" in status["error"]
        await asyncio.to_thread(redis_server.start)
        # connected turns true once a node's catch-up (queue, own bans, fleet state) is done.
        await until(lambda: one.cluster.connected and two.cluster.connected and
                    one.banned("dos") == ["203.0.113.5"] and
                    two.banned("manual") == ["203.0.113.101", "203.0.113.102"], "reconciliation")
        assert one.cluster.status()["cluster"]["queued"] == 0
        published = [(d["action"], d["key"]) for d in _stream(redis_server)]
        assert sorted(published) == [("ban", "203.0.113.101"), ("ban", "203.0.113.102"),
                                     ("ban", "203.0.113.5")]
        assert sorted(redis_server.client().hkeys("floodwall:t:bans")) == [
            "dos|203.0.113.5", "manual|203.0.113.101", "manual|203.0.113.102"]

    _fleet(tmp_path, redis_server, ["gw1", "gw2"], body)


def test_a_node_restarted_after_a_fleet_ban_enforces_it_at_start(
        tmp_path: Path, redis_server: RedisServer) -> None:
    async def body(one: Node, two: Node) -> None:
        await two.daemon.shutdown()
        await one.ban("192.0.2.99")
        await until(lambda: redis_server.client().hlen("floodwall:t:bans") == 1, "publication")
        again = Node(tmp_path, "gw2", redis_server.url)
        await again.daemon.start()
        try:
            await until(lambda: again.banned("manual") == ["192.0.2.99"], "catch-up at start",
                        timeout=3)
        finally:
            await again.daemon.shutdown()
        two.daemon = Daemon(two.config, enforcer=two.enforcer)  # the fixture shuts it down

    _fleet(tmp_path, redis_server, ["gw1", "gw2"], body)


def test_a_node_back_after_its_unban_was_trimmed_from_the_stream_lifts_the_ban(
        tmp_path: Path, redis_server: RedisServer) -> None:
    async def body(one: Node, two: Node) -> None:
        await one.ban("192.0.2.77")
        await until(lambda: two.banned("manual") == ["192.0.2.77"], "the ban on gw2")
        await two.daemon.shutdown()
        await one.unban("192.0.2.77")
        await until(lambda: redis_server.client().hlen("floodwall:t:lifted") == 1, "the unban")
        redis_server.client().xtrim("floodwall:t:decisions", maxlen=0)  # as MAXLEN trims it
        again = Node(tmp_path, "gw2", redis_server.url)
        await again.daemon.start()
        try:
            await until(lambda: again.cluster.connected, "gw2's catch-up")
            assert again.banned("manual") == []
            ended = again.daemon.database.bans_of("192.0.2.77")[0]
            assert ended.end_reason == "unbanned in the fleet while this node was away"
            assert [d["action"] for d in _stream(redis_server)] == []  # nothing published
        finally:
            await again.daemon.shutdown()
        two.daemon = Daemon(two.config, enforcer=two.enforcer)  # the fixture shuts it down

    _fleet(tmp_path, redis_server, ["gw1", "gw2"], body)


def test_a_wrong_password_is_reported_and_the_node_works_alone(tmp_path: Path) -> None:
    if SKIP_REASON is not None:
        pytest.skip(f"LOUD SKIP: {SKIP_REASON}")

    async def main(server: RedisServer) -> None:
        node = Node(tmp_path, "gw1", server.url, password="wrong")
        await node.daemon.start()
        try:
            await until(lambda: node.cluster.error is not None, "the error")
            assert "refused the default user" in node.cluster.error  # type: ignore[operator]
            assert "[cluster] table of" in node.cluster.error  # type: ignore[operator]
            node.fail("203.0.113.5", 9)
            await until(lambda: node.banned("dos") == ["203.0.113.5"], "a local ban")
            assert node.daemon.status()["cluster"]["queued"] == 1
        finally:
            await node.daemon.shutdown()

    with RedisServer.started(password="right") as server:
        asyncio.run(asyncio.wait_for(main(server), timeout=30))
