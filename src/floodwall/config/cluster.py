"""Reading the [cluster] table: which Redis a node shares its fleet's decisions and counts
through (the values it makes are settings.values.ClusterConfig)."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from floodwall.config.converters import boolean, non_empty_text
from floodwall.errors import ConfigError
from floodwall.settings.values import ClusterConfig

KEYS = frozenset({"url", "node", "fleet", "username", "password", "tls_ca", "tls_cert",
                  "tls_key", "tls_verify", "sentinels", "sentinel_master", "advertise",
                  "gateways", "origin_ports", "heartbeat", "timeout"})
"""Keys the [cluster] table accepts."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
_SCHEMES = ("redis", "rediss", "unix")




def parse_cluster(body: Mapping[str, Any],
                  error: Callable[[str, str | None], ConfigError]) -> ClusterConfig:
    """Validate the [cluster] table; `error(message, key)` makes a located ConfigError."""
    for key in body:
        if key not in KEYS:
            raise error(f"unknown key; expected one of: {', '.join(sorted(KEYS))}", key)

    def get(key: str, convert: Callable[[Any], Any], default: Any = None) -> Any:
        if key not in body:
            return default
        try:
            return convert(body[key])
        except (ValueError, TypeError) as problem:
            raise error(str(problem), key) from None

    sentinels = get("sentinels", _host_ports, ())
    if "url" not in body and not sentinels:
        raise error("missing 'url': the fleet's Redis, e.g. url = \"redis://10.0.0.5:6379/0\" "
                    "or \"unix:///run/redis/redis.sock\" (or give sentinels)", None)
    return ClusterConfig(
        url=get("url", _url, "redis://"),
        node=get("node", _name, socket.gethostname().split(".")[0] or "node"),
        fleet=get("fleet", _name, "default"),
        username=get("username", non_empty_text),
        password=get("password", non_empty_text),
        tls_ca=get("tls_ca", non_empty_text),
        tls_cert=get("tls_cert", non_empty_text),
        tls_key=get("tls_key", non_empty_text),
        tls_verify=get("tls_verify", boolean, True),
        sentinels=sentinels,
        sentinel_master=get("sentinel_master", _name, "mymaster"),
        advertise=get("advertise", _addresses, ()),
        gateways=get("gateways", _networks, ()),
        origin_ports=get("origin_ports", _ports, ("80", "443")),
        heartbeat=get("heartbeat", _seconds, 2.0),
        timeout=get("timeout", _seconds, 3.0),
    )




def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError("expected a name of letters, digits, '.', '_' and '-' (at most 63), "
                         f"got {value!r}")
    return value


def _url(value: Any) -> str:
    text = non_empty_text(value)
    parts = urlsplit(text)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"expected a redis://, rediss:// or unix:// URL, got {value!r}")
    if parts.scheme == "unix" and not parts.path.startswith("/"):
        raise ValueError(f"a unix URL needs an absolute socket path, e.g. "
                         f"\"unix:///run/redis/redis.sock\", got {value!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"the URL names no host, e.g. \"redis://10.0.0.5:6379/0\", "
                         f"got {value!r}")
    return text


def _host_ports(value: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a list of \"host:port\" sentinels, got {value!r}")
    result = []
    for item in value:
        match = re.match(r"^\[?([^\[\]\s]+?)\]?:(\d{1,5})$", str(item))
        if not isinstance(item, str) or not match or not 0 < int(match.group(2)) < 65536:
            raise ValueError(f"expected \"host:port\" such as \"10.0.0.5:26379\", got {item!r}")
        result.append((match.group(1), int(match.group(2))))
    return tuple(result)


def _addresses(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise TypeError(f"expected a list of addresses, got {value!r}")
    try:
        return tuple(str(ipaddress.ip_address(item)) for item in items)
    except ValueError:
        raise ValueError(f"expected IP addresses such as \"198.51.100.7\", got {value!r}") from None


def _networks(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise TypeError(f"expected a list of addresses or networks, got {value!r}")
    try:
        return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items)
    except (ValueError, TypeError):
        raise ValueError("expected addresses or CIDR networks such as \"198.51.100.0/28\", "
                         f"got {value!r}") from None


def _ports(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    ports = []
    for item in items:
        text = str(item)
        if isinstance(item, bool) or not re.match(r"^\d{1,5}(-\d{1,5})?$", text) or not all(
                0 < int(part) < 65536 for part in text.split("-")):
            raise ValueError(f"expected TCP ports like 443 or \"8000-8080\", got {item!r}")
        ports.append(text)
    return tuple(ports)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"expected a number of seconds above zero, got {value!r}")
    return float(value)
