"""NftablesEnforcer against real nftables inside network namespaces made for the test."""

from __future__ import annotations

import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from floodwall.addresses import Allowlist
from floodwall.bans.ledger import Ledger
from floodwall.bans.policy import BanPolicy
from floodwall.bans.service import BanService
from floodwall.clock import ManualClock
from floodwall.config.loader import parse_config
from floodwall.enforcement.base import ApplyError, JailFirewall
from floodwall.enforcement.nftables import NftablesEnforcer
from floodwall.errors import EnforcementError
from floodwall.model import Ban, Change
from floodwall.storage.database import IN_MEMORY, Database
from tests.support.netns import (
    Link,
    Namespace,
    network,
    skip_reason,
    start_tcp_listener,
    wait_for_tcp,
)
from tests.support.waiting import wait_until

SERVER4, BANNED4, LEGIT4 = "192.0.2.1", "192.0.2.2", "192.0.2.3"
SERVER6, BANNED6, LEGIT6 = "2001:db8::1", "2001:db8::2", "2001:db8::3"
GUARDED, OPEN = 8080, 8081
BLOCKED_TIMEOUT = 0.5
"""Seconds a connect may take before the address counts as blocked (veth answers in µs)."""

root = pytest.mark.root


@dataclass
class Lab:
    """A server namespace with a TCP listener and a client namespace with two addresses
    per family, joined by a veth pair."""

    server: Namespace
    client: Namespace

    def enforcer(self, table: str) -> NftablesEnforcer:
        """An enforcer whose nft runs in the server namespace."""
        return NftablesEnforcer(table, command=self.server.argv(["nft"]))

    def blocked(self, source: str, port: int = GUARDED) -> bool:
        """Whether a connection from `source` in the client to the server is refused."""
        host = SERVER6 if ":" in source else SERVER4
        return not self.client.connects(host, port, source=source, timeout=BLOCKED_TIMEOUT)

    def timeouts(self, table: str) -> dict[str, int | None]:
        """Key -> element timeout in seconds (None without one), read back with `nft -j`."""
        listing = json.loads(self.server.run(["nft", "-j", "list", "table", "inet", table]).stdout)
        found: dict[str, int | None] = {}
        for item in listing["nftables"]:
            for element in item.get("set", {}).get("elem", []):
                if isinstance(element, dict) and "elem" in element:
                    found[str(element["elem"]["val"])] = element["elem"].get("timeout")
                else:
                    found[str(element)] = None
        return found


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    reason = skip_reason(("ip", "nft"))
    if reason:
        pytest.skip(f"NFTABLES TESTS SKIPPED: {reason}")
    link = Link(0, 1, (f"{SERVER4}/24", f"{SERVER6}/64"),
                (f"{BANNED4}/24", f"{LEGIT4}/24", f"{BANNED6}/64", f"{LEGIT6}/64"))
    with network(2, [link]) as (server, client):
        start_tcp_listener(server, [GUARDED, OPEN])
        wait_for_tcp(client, SERVER4, GUARDED)
        yield Lab(server, client)


@pytest.fixture
def table(lab: Lab) -> Iterator[str]:
    """A fresh table name whose table is deleted after the test."""
    name = f"fwtest_{secrets.token_hex(3)}"
    yield name
    lab.enforcer(name).teardown()


def add(key: str, jail: str = "sshd", seconds: float | None = None, now: float = 0.0) -> Change:
    until = None if seconds is None else now + seconds
    return Change("add", Ban(key, jail, start=now, until=until))


def remove(key: str, jail: str = "sshd") -> Change:
    return Change("remove", Ban(key, jail, start=0.0, until=None))


@root
def test_ban_blocks_only_the_banned_address_until_removed(lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    enforcer.setup([JailFirewall("sshd")])
    assert not lab.blocked(BANNED4)

    enforcer.apply([add(BANNED4)], now=time.time())
    assert lab.blocked(BANNED4)
    assert not lab.blocked(LEGIT4)
    assert enforcer.elements() == {"sshd": [BANNED4]}

    enforcer.apply([remove(BANNED4)], now=time.time())
    assert not lab.blocked(BANNED4)
    assert enforcer.elements() == {"sshd": []}


@root
def test_ipv6_address_and_prefix_bans(lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    enforcer.setup([JailFirewall("sshd")])
    enforcer.apply([add(BANNED6)], now=time.time())
    assert lab.blocked(BANNED6)
    assert not lab.blocked(LEGIT6)

    enforcer.apply([remove(BANNED6), add("2001:db8::/64"), add("192.0.2.0/24")], now=time.time())
    assert lab.blocked(LEGIT6) and lab.blocked(BANNED6)
    assert lab.blocked(LEGIT4)
    assert enforcer.elements() == {"sshd": ["192.0.2.0/24", "2001:db8::/64"]}


@root
def test_short_ban_expires_by_itself(lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    enforcer.setup([JailFirewall("sshd")])
    enforcer.apply([add(BANNED4, seconds=2, now=time.time())], now=time.time())
    assert lab.blocked(BANNED4)
    wait_until(lambda: not lab.blocked(BANNED4), timeout=10, what="the 2 s ban to expire")
    assert enforcer.elements() == {"sshd": []}


@root
def test_jail_with_ports_blocks_only_those_ports(lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    enforcer.setup([JailFirewall("web", ports=(str(GUARDED), "http", "9000-9100"))])
    enforcer.apply([add(BANNED4, jail="web")], now=time.time())
    assert lab.blocked(BANNED4, GUARDED)
    assert not lab.blocked(BANNED4, OPEN)


@root
def test_expired_ban_is_skipped_and_absent_remove_is_harmless(lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    enforcer.setup([JailFirewall("sshd")])
    now = time.time()
    enforcer.apply([add(BANNED4, seconds=5, now=now - 10), remove("198.51.100.7"),
                    remove("2001:db8::99"), add(LEGIT6)], now=now)
    assert enforcer.elements() == {"sshd": [LEGIT6]}


@root
def test_setup_again_rebuilds_the_same_table_empty(lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    jails = [JailFirewall("sshd"), JailFirewall("nginx auth/\"quoted\"", ports=("https",))]
    enforcer.setup(jails)
    enforcer.apply([add(BANNED4), add(BANNED6, jail=jails[1].name)], now=time.time())
    first = lab.server.run(["nft", "list", "table", "inet", table]).stdout

    enforcer.setup(jails)
    assert enforcer.elements() == {"sshd": [], jails[1].name: []}
    assert not lab.blocked(BANNED4)
    rebuilt = lab.server.run(["nft", "list", "table", "inet", table]).stdout
    # 2 jails x 2 families x 2 hooks x (addresses, prefixes)
    assert rebuilt.count("drop") == first.count("drop") == 16

    enforcer.apply([add(BANNED4)], now=time.time())
    assert lab.blocked(BANNED4)
    assert enforcer.elements() == {"sshd": [BANNED4], jails[1].name: []}


@root
def test_readding_a_ban_replaces_its_timeout(lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    enforcer.setup([JailFirewall("sshd")])
    now = time.time()
    enforcer.apply([add(BANNED4, seconds=60, now=now)], now=now)
    assert lab.timeouts(table) == {BANNED4: 60}

    enforcer.apply([add(BANNED4, seconds=3600, now=now)], now=now + 0.4)
    assert lab.timeouts(table) == {BANNED4: 3600}

    enforcer.apply([add(BANNED4, seconds=None, now=now)], now=now)
    assert lab.timeouts(table) == {BANNED4: None}


@root
def test_one_bad_change_does_not_lose_the_others(lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    enforcer.setup([JailFirewall("sshd")])
    enforcer.apply([add("198.51.100.0/24")], now=time.time())
    good = [add(f"203.0.113.{host}") for host in range(1, 40)]
    overlapping = add("198.51.100.9")  # inside the banned /24: nft refuses it
    batch = [*good[:20], overlapping, add("not-an-address"), add("192.0.2.9", jail="nope"),
             *good[20:]]

    with pytest.raises(ApplyError) as caught:
        enforcer.apply(batch, now=time.time())

    failed = {change.ban.key for change, _ in caught.value.failures}
    assert failed == {"198.51.100.9", "not-an-address", "192.0.2.9"}
    assert "198.51.100.9" in str(caught.value) and "nope" in str(caught.value)
    assert set(enforcer.elements()["sshd"]) == {"198.51.100.0/24"} | {c.ban.key for c in good}


@root
def test_two_thousand_adds_run_as_one_nft_process(lab: Lab, table: str, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    wrapper = tmp_path / "nft"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"echo call >> '{calls}'\n"
        f"exec ip netns exec '{lab.server.name}' nft \"$@\"\n")
    wrapper.chmod(0o755)
    enforcer = NftablesEnforcer(table, command=(str(wrapper),))
    enforcer.setup([JailFirewall("sshd")])
    keys = [f"10.{n // 250}.{n % 250}.1" for n in range(1000)]
    keys += [str(ipaddress.ip_network(f"2001:db8:{n:x}::/64")) for n in range(1000)]
    now = time.time()
    before = len(calls.read_text().splitlines())

    enforcer.apply([add(key, seconds=600, now=now) for key in keys], now=now)

    assert len(calls.read_text().splitlines()) - before == 1
    assert enforcer.elements() == {"sshd": sorted(keys)}


def test_missing_nft_binary_says_how_to_install_it(tmp_path: Path) -> None:
    enforcer = NftablesEnforcer(command=(str(tmp_path / "no-such-nft"),))
    with pytest.raises(EnforcementError, match="apt-get install nftables"):
        enforcer.setup([JailFirewall("sshd")])


def test_table_name_must_be_an_identifier() -> None:
    with pytest.raises(EnforcementError, match="table name"):
        NftablesEnforcer("bad; flush ruleset")


@root
def test_gateway_drops_forwarded_traffic_from_banned_keys() -> None:
    reason = skip_reason(("ip", "nft"))
    if reason:
        pytest.skip(f"NFTABLES TESTS SKIPPED: {reason}")
    gateway4 = "192.0.2.1"
    links = [Link(0, 1, (f"{BANNED4}/24", f"{LEGIT4}/24"), (f"{gateway4}/24",)),
             Link(1, 2, ("198.51.100.1/24",), ("198.51.100.2/24",))]
    with network(3, links) as (client, gateway, server):
        gateway.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        client.run(["ip", "route", "add", "default", "via", gateway4])
        server.run(["ip", "route", "add", "default", "via", "198.51.100.1"])
        start_tcp_listener(server, [GUARDED])
        wait_for_tcp(client, "198.51.100.2", GUARDED)
        enforcer = NftablesEnforcer("fwgateway", command=gateway.argv(["nft"]))
        enforcer.setup([JailFirewall("web", ports=(str(GUARDED),))])

        enforcer.apply([add(BANNED4, jail="web")], now=time.time())

        assert not client.connects("198.51.100.2", GUARDED, source=BANNED4, timeout=0.5)
        assert client.connects("198.51.100.2", GUARDED, source=LEGIT4, timeout=0.5)


@root
def test_prefix_over_banned_addresses_is_refused_and_the_prefix_still_blocks(
        lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    enforcer.setup([JailFirewall("sshd")])
    enforcer.apply([add(BANNED4)], now=time.time())

    with pytest.raises(ApplyError) as caught:
        enforcer.apply([add("192.0.2.0/24")], now=time.time())
    assert f"{BANNED4} lies inside 192.0.2.0/24" in str(caught.value)
    assert enforcer.elements() == {"sshd": [BANNED4]}

    # Lifting the address in the same batch lets its prefix in: the whole /24 is blocked.
    enforcer.apply([remove(BANNED4), add("192.0.2.0/24")], now=time.time())
    assert enforcer.elements() == {"sshd": ["192.0.2.0/24"]}
    assert lab.blocked(LEGIT4)


@root
def test_a_new_address_is_only_added_and_a_known_one_gets_a_fresh_timeout(
        lab: Lab, table: str, tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    wrapper = tmp_path / "nft"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"tee -a '{scripts}' | ip netns exec '{lab.server.name}' nft \"$@\"\n")
    wrapper.chmod(0o755)
    enforcer = NftablesEnforcer(table, command=(str(wrapper),))
    enforcer.setup([JailFirewall("sshd")])
    now = time.time()
    before = scripts.read_text() if scripts.exists() else ""

    enforcer.apply([add(BANNED4, seconds=60, now=now)], now=now)
    first = scripts.read_text()[len(before):]
    enforcer.apply([add(BANNED4, seconds=3600, now=now)], now=now)
    second = scripts.read_text()[len(before) + len(first):]

    # A delete makes nft read the whole set: a flood of new bans must not pay for it.
    assert "delete" not in first and f"{BANNED4} timeout 60s" in first
    assert "delete element" in second
    assert lab.timeouts(table) == {BANNED4: 3600}
    assert lab.blocked(BANNED4)


class CountingNftables(NftablesEnforcer):
    """The real enforcer, counting how often the table is rebuilt."""

    rebuilds = 0

    def rebuild(self, jails: Sequence[JailFirewall], changes: Sequence[Change],
                now: float) -> None:
        """Count, then rebuild."""
        self.rebuilds += 1
        super().rebuild(jails, changes, now)


@root
def test_a_stored_key_nft_refuses_blocks_no_one_else_and_starts_no_rebuild_loop(
        lab: Lab, table: str, tmp_path: Path) -> None:
    # What an older version could store: a scoped address nft refuses. The ban service
    # rebuilds the table from this ledger, as the daemon does at start.
    config = parse_config(f'[floodwall]\nstate_dir = "{tmp_path}"\nsocket = "{tmp_path}/s"\n'
                          f'[jails.web]\nlogpath = "{tmp_path}/a.log"\n', "floodwall.toml")
    database = Database(IN_MEMORY)
    now = time.time()
    database.add_bans([(Ban(key, "web", now, now + 600, 1, "local", "older"), ())
                       for key in ("fe80::1%eth0", BANNED4, BANNED6)])
    enforcer = CountingNftables(table, command=lab.server.argv(["nft"]))
    policy = BanPolicy({}, Allowlist())
    service = BanService(config, Ledger(database), policy, enforcer, ManualClock(now))
    service.rebuild_firewall()
    assert lab.blocked(BANNED4) and lab.blocked(BANNED6)
    assert not lab.blocked(LEGIT4)
    for _ in range(3):  # the daemon's tick: a refused element is no reason to rebuild
        service.retry_firewall()
    assert enforcer.rebuilds == 1
    assert lab.blocked(BANNED4)
    database.close()


@root
def test_a_rebuild_with_twenty_thousand_bans_never_lets_a_banned_address_through(
        lab: Lab, table: str) -> None:
    enforcer = lab.enforcer(table)
    now = time.time()
    jails = [JailFirewall("web"), JailFirewall("sshd")]
    crowd = [add(f"10.{n // 250}.{n % 250}.1", "web", 3600, now) for n in range(20_000)]
    changes = [*crowd, add(BANNED4, "sshd", 3600, now)]
    enforcer.rebuild(jails, changes, now)
    assert lab.blocked(BANNED4)
    through, tries = 0, 0
    done = threading.Event()

    def probe() -> None:  # the attacker keeps trying while the table is rebuilt
        nonlocal through, tries
        while not done.is_set() and tries < 10_000:
            tries += 1
            through += lab.client.connects(SERVER4, GUARDED, source=BANNED4, timeout=0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        for _ in range(3):  # a reload, a restart, a new jail: each a rebuild
            enforcer.rebuild(jails, changes, time.time())
        jails.append(JailFirewall("new"))
        enforcer.rebuild(jails, changes, time.time())
    finally:
        done.set()
        prober.join(30)
    assert tries > 10 and through == 0, f"{through} of {tries} connections got through"
    assert not lab.blocked(LEGIT4)
