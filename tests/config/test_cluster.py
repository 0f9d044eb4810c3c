"""Tests of the [cluster] table and of scope = "fleet" in floodwall.toml."""

from __future__ import annotations

import subprocess
import sys

import pytest

from floodwall.config.loader import parse_config
from floodwall.errors import ConfigError

JAIL = """
[jails.web]
logpath = ["/var/log/nginx/access.log"]
scope = "{scope}"
"""


def test_a_full_cluster_table_is_read() -> None:
    config = parse_config("""
[cluster]
url = "rediss://10.0.0.5:6380/2"
node = "gw-1"
fleet = "edge"
username = "floodwall"
password = "s3cret"
tls_ca = "/etc/floodwall/redis-ca.pem"
tls_verify = true
advertise = ["198.51.100.1", "2001:db8::1"]
gateways = ["198.51.100.16/28"]
origin_ports = [443, "8000-8080"]
heartbeat = 5
""" + JAIL.format(scope="fleet"))
    cluster = config.cluster
    assert cluster is not None
    assert (cluster.node, cluster.fleet, cluster.username, cluster.password) == (
        "gw-1", "edge", "floodwall", "s3cret")
    assert cluster.advertise == ("198.51.100.1", "2001:db8::1")
    assert cluster.gateways == ("198.51.100.16/28",)
    assert cluster.origin_ports == ("443", "8000-8080")
    assert cluster.heartbeat == 5.0 and cluster.prefix() == "floodwall:edge:"
    assert cluster.where() == "rediss://10.0.0.5:6380/2"  # no password in messages
    assert config.jails[0].scope == "fleet"


def test_without_cluster_jails_are_local_and_redis_is_not_imported() -> None:
    config = parse_config(JAIL.format(scope="local"))
    assert config.cluster is None and config.jails[0].scope == "local"
    code = ("import sys; from floodwall.config.loader import parse_config; "
            "from floodwall.server.wiring import standard_addons; "
            f"standard_addons(parse_config({JAIL.format(scope='local')!r})); "
            "print('redis' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(("text", "line", "key", "message"), [
    ('[cluster]\nnode = "gw1"\n', 1, "cluster", "missing 'url'"),
    ('[cluster]\nurl = "http://x"\n', 2, "cluster.url", "redis://, rediss:// or unix://"),
    ('[cluster]\nurl = "unix://relative.sock"\n', 2, "cluster.url", "absolute socket path"),
    ('[cluster]\nurl = "redis://r:6379"\nnode = "gw 1"\n', 3, "cluster.node", "letters"),
    ('[cluster]\nurl = "redis://r:6379"\npasword = "x"\n', 3, "cluster.pasword",
     "unknown key"),
    ('[cluster]\nurl = "redis://r:6379"\nadvertise = ["gw1"]\n', 3, "cluster.advertise",
     "IP addresses"),
    ('[cluster]\nsentinels = ["s1"]\n', 2, "cluster.sentinels", "host:port"),
    ('[cluster]\nurl = "redis://r:6379"\norigin_ports = [70000]\n', 3,
     "cluster.origin_ports", "TCP ports"),
])
def test_cluster_errors_name_line_and_key(text: str, line: int, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text + JAIL.format(scope="local"), "fw.toml")
    assert (caught.value.line, caught.value.key) == (line, key)
    assert message in str(caught.value) and str(caught.value).startswith(f"fw.toml:{line}")


def test_fleet_scope_needs_a_cluster_and_scope_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"add a \[cluster\] table") as caught:
        parse_config(JAIL.format(scope="fleet"), "fw.toml")
    assert (caught.value.line, caught.value.key) == (4, "jails.web.scope")
    with pytest.raises(ConfigError, match="'local', 'fleet'"):
        parse_config(JAIL.format(scope="global"), "fw.toml")


def test_sentinels_replace_the_url() -> None:
    config = parse_config('[cluster]\nsentinels = ["10.0.0.1:26379", "[2001:db8::2]:26379"]\n'
                          'sentinel_master = "edge"\n' + JAIL.format(scope="local"))
    assert config.cluster is not None
    assert config.cluster.sentinels == (("10.0.0.1", 26379), ("2001:db8::2", 26379))
    assert config.cluster.where() == (
        "sentinel master 'edge' via 10.0.0.1:26379, 2001:db8::2:26379")
