"""A private redis-server per test (unix socket and loopback port), skipped loudly if absent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_server import SKIP_REASON, RedisServer


@pytest.fixture()
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server with no password, on a unix socket and a loopback port."""
    if SKIP_REASON is not None:
        pytest.skip(f"LOUD SKIP: {SKIP_REASON}")
    with RedisServer.started(tcp=True) as server:
        yield server
