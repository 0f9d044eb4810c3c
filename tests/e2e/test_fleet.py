"""End to end: three gateways, each in its own namespace with its own nginx, access log and
nftables, share bans and counts through a real redis-server; an attacker in a fourth
namespace reaches each gateway over its own link with the same source address.

Redis listens on a unix socket in a temporary directory: sockets on the file system are
reachable from every network namespace.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.configs import floodwall_toml, scanner_jail
from tests.support.netns import Link, Namespace, network, skip_reason
from tests.support.nginx import start_nginx
from tests.support.redis_server import SKIP_REASON as REDIS_MISSING
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

ATTACKER, SECOND_ATTACKER = "203.0.113.66", "203.0.113.67"
GATEWAYS = ("192.0.2.1", "192.0.2.2", "192.0.2.3")

REASON = skip_reason(("ip", "nft", "nginx", "curl")) or REDIS_MISSING
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

NGINX_HTTP = """
    keepalive_requests 1000;
    server {
        listen 80;
        access_log {root}/access.log combined;
        location = /ok { return 200 "ok\\n"; }
        location / { return 404; }
    }
"""

@dataclass
class Gateway:
    """One gateway namespace: nginx and `floodwall run`."""

    name: str
    address: str
    namespace: Namespace
    root: Path
    process: subprocess.Popen[str] | None = None

    @property
    def log(self) -> Path:
        return self.root / "floodwall.log"

    def starts(self) -> int:
        return self.log.read_text().count("floodwall running") if self.log.exists() else 0

    def launch(self) -> int:
        """Start floodwall without waiting; returns the start count to wait beyond."""
        before = self.starts()
        with open(self.log, "a") as log:
            self.process = self.namespace.popen(
                [sys.executable, "-m", "floodwall", "run", "--config",
                 str(self.root / "floodwall.toml")], stdout=log, stderr=log)
        return before

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=15) == 0, self.log.read_text()[-3000:]
        self.process = None

    def cli(self, *args: str) -> str:
        result = self.namespace.run([sys.executable, "-m", "floodwall", *args,
                                     "--config", str(self.root / "floodwall.toml")])
        return result.stdout

    def banned(self) -> set[str]:
        """Addresses in floodwall's nftables sets in this gateway's namespace."""
        result = self.namespace.run(["nft", "-j", "list", "table", "inet", "floodwall"],
                                    check=False)
        if result.returncode != 0:
            return set()
        found = set()
        for item in json.loads(result.stdout)["nftables"]:
            for element in item.get("set", {}).get("elem", []):
                value = element.get("elem", {}).get("val", element) if isinstance(
                    element, dict) else element
                found.add(str(value))
        return found

    def bans(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.cli("bans", "--json").splitlines()]


def _start_all(gateways: list[Gateway]) -> None:
    before = [gateway.launch() for gateway in gateways]
    for gateway, count in zip(gateways, before, strict=True):
        wait_until(lambda g=gateway, c=count: g.starts() > c, 30,  # type: ignore[misc]
                   f"floodwall on {gateway.name} to start (see {gateway.log})")


@pytest.fixture()
def redis_server() -> Iterator[RedisServer]:
    with RedisServer.started() as server:
        yield server


def _floodwall_toml(root: Path, url: str, node: str, **cluster: object) -> Path:
    """floodwall.toml of gateway `node`: nftables, the fleet `edge` at `url`, and two jails on
    nginx's log."""
    log = root / "access.log"
    return floodwall_toml(root, {
        # A scanner spread over the gateways: more than 300 failing GETs in the whole fleet.
        "http-get-dos": scanner_jail(log, maxretry=301, bantime="10m", ports=["http"],
                                     scope="fleet"),
        "wordpress": {"logpath": [log], "methods": ["POST"], "path": r"/wp-login\.php$",
                      "maxretry": 3, "findtime": "5m", "bantime": "10m", "ports": ["http"]}},
        floodwall={"backend": "nftables", "new_files_from": None, "protect_ssh_sessions": False},
        defaults={"ignoreip": ["127.0.0.0/8"]},
        cluster={"url": url, "node": node, "fleet": "edge", "heartbeat": 0.5, **cluster})


@contextmanager
def _fleet(tmp_path: Path, url: str, count: int, **cluster: object
           ) -> Iterator[tuple[list[Gateway], Namespace]]:
    # Namespace `count` is the attacker; link i joins it to gateway i.
    links = [Link(count, i, (f"{ATTACKER}/32", f"{SECOND_ATTACKER}/32"), (f"{GATEWAYS[i]}/32",))
             for i in range(count)]
    with network(count + 1, links) as namespaces:
        attacker = namespaces[count]
        gateways = []
        for i in range(count):
            root = tmp_path / f"gw{i + 1}"
            root.mkdir(parents=True)
            (root / "access.log").touch()
            _floodwall_toml(root, url, f"gw{i + 1}", **cluster)
            gateway = Gateway(f"gw{i + 1}", GATEWAYS[i], namespaces[i], root)
            attacker.run(["ip", "route", "add", f"{gateway.address}/32", "dev", f"v{i}"])
            gateway.namespace.run(["ip", "route", "add", f"{ATTACKER}/32", "dev", f"v{i}"])
            gateway.namespace.run(["ip", "route", "add", f"{SECOND_ATTACKER}/32", "dev", f"v{i}"])
            start_nginx(gateway.namespace, root, NGINX_HTTP)
            gateways.append(gateway)
        for gateway in gateways:
            wait_until(lambda g=gateway: attacker.connects(g.address, 80), 15,  # type: ignore[misc]
                       f"nginx on {gateway.name}")
        _start_all(gateways)
        try:
            yield gateways, attacker
        finally:
            for gateway in gateways:
                if gateway.process is not None and gateway.process.poll() is None:
                    gateway.stop()


@pytest.fixture()
def fleet(tmp_path: Path, redis_server: RedisServer
          ) -> Iterator[tuple[list[Gateway], Namespace]]:
    with _fleet(tmp_path, redis_server.url, 3) as value:
        yield value


def _wait_connected(gateways: list[Gateway]) -> None:
    for gateway in gateways:
        wait_until(lambda g=gateway: "joined fleet edge" in g.log.read_text(), 15,  # type: ignore[misc]
                   f"{gateway.name} to join the fleet")


def _post_logins(attacker: Namespace, gateway: Gateway, source: str, times: int = 3) -> None:
    for n in range(times):
        result = attacker.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                               "--interface", source, "--max-time", "2", "-X", "POST",
                               f"http://{gateway.address}/blog{n}/wp-login.php"], check=False)
        assert result.stdout == "404", f"POST to {gateway.name} from {source}: {result}"


def _hammer(attacker: Namespace, gateway: Gateway, count: int) -> int:
    """`count` failing GETs on one keep-alive connection; how many were answered."""
    with attacker.socket() as sock:
        sock.settimeout(2)
        sock.bind((ATTACKER, 0))
        sock.connect((gateway.address, 80))
        sock.sendall(b"".join(f"GET /scan/{n}.php HTTP/1.1\r\nHost: site.example\r\n\r\n"
                              .encode() for n in range(count)))
        received = b""
        while received.count(b"HTTP/1.1 404") < count:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionError):
                break  # banned midway: the rest is dropped
            if not chunk:
                break
            received += chunk
        return received.count(b"HTTP/1.1 404")


def test_a_ban_on_one_node_is_enforced_on_the_others_within_a_second_and_unban_anywhere(
        fleet: tuple[list[Gateway], Namespace]) -> None:
    (one, two, three), attacker = fleet
    _wait_connected([one, two, three])
    assert all(attacker.connects(g.address, 80) for g in (one, two, three))
    _post_logins(attacker, one, ATTACKER)
    wait_until(lambda: ATTACKER in one.banned(), 5, "the ban on gw1")
    banned_on_one = time.monotonic()
    wait_until(lambda: ATTACKER in two.banned() and ATTACKER in three.banned(), 5,
               "the ban on gw2 and gw3")
    propagation = time.monotonic() - banned_on_one
    print(f"ban propagated from gw1 to gw2 and gw3 in {propagation:.3f}s")
    assert propagation < 1.0, f"propagation took {propagation:.3f}s"
    assert not attacker.connects(two.address, 80, source=ATTACKER, timeout=0.3)
    assert not attacker.connects(three.address, 80, source=ATTACKER, timeout=0.3)
    assert attacker.connects(three.address, 80, source=SECOND_ATTACKER)  # only the attacker
    assert [(b["address"], b["jail"], b["origin"]) for b in two.bans()] == [
        (ATTACKER, "wordpress", "gw1")]
    assert [b["origin"] for b in one.bans()] == ["local"]
    status = two.cli("status")
    assert "fleet edge via unix:" in status and "connected" in status
    wait_until(lambda: all(f"gw{n}" in two.cli("status") for n in (1, 2, 3)), 5,
               "every node's heartbeat in gw2's status")

    # Unban on any node (here the third) removes the ban everywhere.
    assert ATTACKER in three.cli("unban", ATTACKER)
    wait_until(lambda: not (one.banned() | two.banned() | three.banned()), 3,
               "the unban on every node")
    assert all(attacker.connects(g.address, 80, source=ATTACKER) for g in (one, two, three))


def test_fleet_counting_bans_an_attacker_no_single_node_sees_enough_of(
        fleet: tuple[list[Gateway], Namespace]) -> None:
    gateways, attacker = fleet
    _wait_connected(gateways)
    answered = [_hammer(attacker, gateway, 120) for gateway in gateways]
    assert answered[:2] == [120, 120]  # 240 so far: below the fleet's limit of 301
    assert answered[2] >= 61
    for gateway in gateways:
        wait_until(lambda g=gateway: ATTACKER in g.banned(), 5,  # type: ignore[misc]
                   f"the fleet-counted ban on {gateway.name}")
        assert not attacker.connects(gateway.address, 80, source=ATTACKER, timeout=0.3)
    reasons = {b["reason"] for g in gateways for b in g.bans()}
    assert len(reasons) == 1 and "across the fleet" in reasons.pop()


def test_partition_then_reconcile_and_a_restarted_node_enforces_fleet_bans_at_start(
        fleet: tuple[list[Gateway], Namespace], redis_server: RedisServer) -> None:
    (one, two, three), attacker = fleet
    _wait_connected([one, two, three])
    redis_server.stop()
    wait_until(lambda: all("is unreachable" in g.log.read_text() for g in (one, two, three)),
               10, "every node to notice Redis is gone")
    _post_logins(attacker, one, ATTACKER)
    _post_logins(attacker, two, SECOND_ATTACKER)
    wait_until(lambda: ATTACKER in one.banned() and SECOND_ATTACKER in two.banned(), 5,
               "the local bans during the partition")
    assert "NOT CONNECTED" in one.cli("status")
    assert three.banned() == set()
    redis_server.start()
    both = {ATTACKER, SECOND_ATTACKER}
    wait_until(lambda: all(g.banned() == both for g in (one, two, three)), 10,
               "both bans on every node after Redis came back")
    client = redis_server.client()
    published = [json.loads(fields["d"]) for _, fields in client.xrange("floodwall:edge:decisions")]
    assert sorted((d["action"], d["key"], d["origin"]) for d in published) == [
        ("ban", ATTACKER, "gw1"), ("ban", SECOND_ATTACKER, "gw2")]  # nothing lost or doubled
    for gateway in (one, two, three):
        assert sorted(b["address"] for b in gateway.bans()) == sorted(both)

    # A node that was down while the fleet banned enforces the ban as soon as it starts,
    # even with its firewall table gone (as after a reboot).
    three.stop()
    three.namespace.run(["nft", "delete", "table", "inet", "floodwall"])
    one.cli("ban", "203.0.113.99", "--bantime", "10m")
    wait_until(lambda: client.hexists("floodwall:edge:bans", "manual|203.0.113.99"), 5,
               "the ban in the fleet state")
    before = three.launch()
    wait_until(lambda: three.starts() > before, 30, "gw3 to start again")
    wait_until(lambda: "203.0.113.99" in three.banned(), 3, "the fleet ban on the restarted gw3")
    assert [b["origin"] for b in three.bans() if b["address"] == "203.0.113.99"] == ["gw1"]


def test_a_wrong_redis_password_is_reported_and_the_node_bans_alone(tmp_path: Path) -> None:
    with RedisServer.started(password="right") as server, _fleet(
            tmp_path, server.url, 1, password="wrong") as ((gateway,), attacker):
            wait_until(lambda: "refused the default user" in gateway.log.read_text(), 10,
                       "the password error in the log")
            log = gateway.log.read_text()
            assert "fix password/username in the [cluster] table of" in log
            assert log.count("refused the default user") == 1  # said once, not every retry
            status = gateway.cli("status")
            assert "NOT CONNECTED: cluster: Redis at unix:" in status
            _post_logins(attacker, gateway, ATTACKER)
            wait_until(lambda: ATTACKER in gateway.banned(), 5, "the local ban")
            assert not attacker.connects(gateway.address, 80, source=ATTACKER, timeout=0.3)
            assert "1 decision(s) queued" in gateway.cli("status")
