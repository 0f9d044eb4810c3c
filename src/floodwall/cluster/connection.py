"""The Redis client a node uses: redis-py's asyncio client built from the [cluster] table."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError

from floodwall.settings.values import ClusterConfig


def connect(config: ClusterConfig) -> aioredis.Redis:
    """A client for the fleet's Redis (TCP, unix socket, TLS or Sentinel); connects lazily."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": config.timeout,
        "socket_connect_timeout": config.timeout,
        # The node reconnects by itself; retries inside a command would only hide an outage.
        "retry": Retry(NoBackoff(), 0),
    }
    if config.username is not None:
        options["username"] = config.username
    if config.password is not None:
        options["password"] = config.password
    tls = _tls_options(config)
    if config.sentinels:
        sentinel = Sentinel(list(config.sentinels),
                            sentinel_kwargs={"socket_timeout": config.timeout,
                                             "socket_connect_timeout": config.timeout, **tls},
                            **options, **tls)
        master: aioredis.Redis = sentinel.master_for(config.sentinel_master)
        return master
    return aioredis.Redis.from_url(config.url, **options, **tls)


def _tls_options(config: ClusterConfig) -> dict[str, Any]:
    uses_tls = config.url.startswith("rediss://") or (
        config.sentinels and (config.tls_ca or config.tls_cert))
    if not uses_tls:
        return {}
    options: dict[str, Any] = {"ssl_cert_reqs": "required" if config.tls_verify else "none"}
    if config.sentinels:
        options["ssl"] = True
    for name, value in (("ssl_ca_certs", config.tls_ca), ("ssl_certfile", config.tls_cert),
                        ("ssl_keyfile", config.tls_key)):
        if value is not None:
            options[name] = value
    return options


def explain(problem: BaseException, config: ClusterConfig, source: str) -> str:
    """An operator's sentence for a Redis failure: what went wrong and what to do."""
    where = config.where()
    # redis-py wraps a refusal met while connecting in a ConnectionError.
    cause = problem.__cause__ if isinstance(problem.__cause__, AuthenticationError) else problem
    if isinstance(cause, AuthenticationError) or (
            isinstance(cause, ResponseError) and "NOPERM" in str(cause)):
        user = f"user '{config.username}'" if config.username else "the default user"
        return (f"cluster: Redis at {where} refused {user}: {cause}; fix password/username "
                f"in the [cluster] table of {source}. This node keeps banning alone and "
                "queues its decisions meanwhile")
    return (f"cluster: Redis at {where} is unreachable ({type(problem).__name__}: {problem}); "
            "this node keeps banning alone, queues its decisions and reconnects by itself")
