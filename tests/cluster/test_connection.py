"""Tests of the Redis client built from [cluster]: TCP, unix socket, passwords, ACL users."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from redis.exceptions import RedisError

from floodwall.cluster.connection import connect, explain
from floodwall.settings.values import ClusterConfig
from tests.support.redis_server import SKIP_REASON, RedisServer


def _ping(config: ClusterConfig) -> object:
    async def main() -> object:
        client = connect(config)
        try:
            return await client.ping()
        finally:
            await client.aclose()
    return asyncio.run(main())


def test_tcp_and_unix_socket_urls_reach_the_server(redis_server: RedisServer) -> None:
    assert _ping(ClusterConfig(url=redis_server.tcp_url, node="gw1")) is True
    assert _ping(ClusterConfig(url=redis_server.url, node="gw1")) is True


def test_password_and_acl_user() -> None:
    if SKIP_REASON is not None:
        pytest.skip(f"LOUD SKIP: {SKIP_REASON}")
    with RedisServer.started(password="right") as server:
        config = ClusterConfig(url=server.url, node="gw1", password="right")
        assert _ping(config) is True
        server.client().acl_setuser("fleet", enabled=True, passwords=["+fleetpw"],
                                    keys=["floodwall:*"], commands=["+@all"])
        assert _ping(replace(config, username="fleet", password="fleetpw")) is True
        wrong = replace(config, password="wrong")
        with pytest.raises(RedisError) as caught:
            _ping(wrong)
        message = explain(caught.value, wrong, "/etc/floodwall/floodwall.toml")
        assert f"Redis at unix:{server.socket} refused the default user" in message
        assert "fix password/username in the [cluster] table of " \
               "/etc/floodwall/floodwall.toml" in message
        assert "keeps banning alone" in message and "wrong" not in message.split(":")[0]


def test_an_unreachable_server_is_explained(redis_server: RedisServer) -> None:
    config = ClusterConfig(url=f"unix://{redis_server.directory}/absent.sock", node="gw1",
                           timeout=1)
    with pytest.raises(Exception) as caught:
        _ping(config)
    message = explain(caught.value, config, "fw.toml")
    assert message.startswith(f"cluster: Redis at unix:{redis_server.directory}/absent.sock "
                              "is unreachable (ConnectionError")
    assert "reconnects by itself" in message
