"""The throttle action: rate validation, the nft rules it makes, and real nftables in network
namespaces letting a throttled source through slowly, a banned one not at all."""

from __future__ import annotations

import secrets
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from floodwall.enforcement.base import JailFirewall
from floodwall.enforcement.nftables import NftablesEnforcer
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.errors import EnforcementError
from floodwall.model import Ban, Change
from floodwall.server.daemon import Daemon
from tests.support.configs import load
from tests.support.daemons import with_daemon
from tests.support.netns import Link, Namespace, network, skip_reason

SERVER4, SERVER6 = "192.0.2.1", "2001:db8::1"
BANNED4, LEGIT4 = "192.0.2.3", "192.0.2.4"
SLOW_PREFIX, SLOW_A, SLOW_B = "192.0.2.16/30", "192.0.2.17", "192.0.2.18"
SLOW6 = "2001:db8::17"
PORT = 9000
PAYLOAD = 972
"""UDP payload bytes: with the 28 bytes of IPv4 and UDP headers, 1000 bytes a packet."""


# --- validation and the generated script (no root needed) ---------------------------------

def test_throttle_jail_needs_a_valid_rate() -> None:
    with pytest.raises(EnforcementError, match="needs a rate"):
        JailFirewall("web", action="throttle")
    with pytest.raises(EnforcementError, match="needs a rate"):
        JailFirewall("web", rate="10/second")
    with pytest.raises(EnforcementError, match="action 'reject'"):
        JailFirewall("web", action="reject")
    for bad in ("10/second drop; flush ruleset", "10 per second", "0/second", "10/fortnight",
                "ten/second", "10 kbytes/second }"):
        with pytest.raises(EnforcementError, match=r"jail 'web'.*fix the jail's rate"):
            JailFirewall("web", action="throttle", rate=bad)
    with pytest.raises(EnforcementError, match="burst"):
        JailFirewall("web", action="throttle", rate="10/second", burst=0)


def test_throttle_rules_meter_each_source_and_keep_drop_jails_as_they_were() -> None:
    enforcer = _ScriptEnforcer()
    enforcer.setup([
        JailFirewall("ssh", ports=("22",)),
        JailFirewall("web", ports=("80", "443"), action="throttle", rate="100 KBytes/second",
                     burst=200),
    ])
    script = enforcer.scripts[-1]
    assert "tcp th dport { 22 } ip saddr @j0_ssh_v4 drop" in script
    assert "set j1_web_m4 { type ipv4_addr; size 65535; flags dynamic, timeout;" in script
    assert ("meta l4proto tcp th dport { 80, 443 } ip saddr @j1_web_v4 update @j1_web_m4 "
            "{ ip saddr limit rate over 100 kbytes/second burst 200 kbytes } drop") in script
    assert ("ip6 saddr @j1_web_v6 update @j1_web_m6 { ip6 saddr limit rate over "
            "100 kbytes/second burst 200 kbytes } drop") in script
    assert "j0_ssh_m4" not in script


class _ScriptEnforcer(NftablesEnforcer):
    """NftablesEnforcer keeping the scripts it would run instead of running nft."""

    def __init__(self) -> None:
        super().__init__("fwscript")
        self.scripts: list[str] = []

    def _run(self, script: str) -> None:
        self.scripts.append(script)


def test_daemon_builds_throttle_jails_from_the_config(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.touch()
    config = load(tmp_path, {
        "web": {"logpath": [log], "ports": ["http"], "action": "throttle",
                "rate": "5 mbytes/second", "burst": 10},
        "ssh": {"logpath": [log]}})
    enforcer = RecordingEnforcer()

    async def started(daemon: Daemon) -> None:
        jails = {jail.name: jail for jail in enforcer.setups[-1]}
        assert jails["web"] == JailFirewall("web", ("http",), "tcp", "throttle",
                                            "5 mbytes/second", 10)
        assert jails["ssh"].action == "drop" and jails["ssh"].rate is None

    with_daemon(config, started, enforcer=enforcer, timeout=30)


# --- real nftables in namespaces ----------------------------------------------------------

@dataclass
class Lab:
    """A server namespace counting UDP datagrams by source, and a client with one address
    per role, joined by a veth pair."""

    server: Namespace
    client: Namespace
    table: str

    def enforcer(self) -> NftablesEnforcer:
        return NftablesEnforcer(self.table, command=self.server.argv(["nft"]))

    def send(self, sources: list[str], packets: int, seconds: float) -> Counter[str]:
        """Send `packets` UDP datagrams from each source, evenly over `seconds`, and count
        those the server received from each."""
        receivers = [self._receiver(socket.AF_INET, "0.0.0.0"),
                     self._receiver(socket.AF_INET6, "::")]
        senders = []
        for source in sources:
            family = socket.AF_INET6 if ":" in source else socket.AF_INET
            sender = self.client.socket(family, socket.SOCK_DGRAM)
            sender.bind((source, 0))
            senders.append((sender, SERVER6 if ":" in source else SERVER4))
        try:
            start = time.monotonic()
            for number in range(packets):
                for sender, server in senders:
                    sender.sendto(b"x" * PAYLOAD, (server, PORT))
                # Pacing the sender, not waiting for an outcome.
                time.sleep(max(0.0, start + (number + 1) * seconds / packets - time.monotonic()))
            return _drain(receivers)
        finally:
            for sock, _ in senders:
                sock.close()
            for sock in receivers:
                sock.close()

    def _receiver(self, family: int, host: str) -> socket.socket:
        sock = self.server.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((host, PORT))
        sock.setblocking(False)
        return sock


def _drain(receivers: list[socket.socket]) -> Counter[str]:
    """Count datagrams by source until none has arrived for 0.3 s (at most 5 s in all)."""
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + 5
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 0.3 and time.monotonic() < deadline:
        got = False
        for sock in receivers:
            try:
                while True:
                    _, (address, *_rest) = sock.recvfrom(2048)
                    counts[address] += 1
                    got = True
            except BlockingIOError:
                pass
        if got:
            quiet_since = time.monotonic()
        time.sleep(0.01)
    return counts


@pytest.fixture
def lab() -> Iterator[Lab]:
    reason = skip_reason(("ip", "nft"))
    if reason:
        pytest.skip(f"THROTTLE TESTS SKIPPED: {reason}")
    link = Link(0, 1, (f"{SERVER4}/24", f"{SERVER6}/64"),
                (f"{BANNED4}/24", f"{LEGIT4}/24", f"{SLOW_A}/24", f"{SLOW_B}/24", f"{SLOW6}/64"))
    with network(2, [link]) as (server, client):
        lab = Lab(server, client, f"fwthr_{secrets.token_hex(3)}")
        try:
            yield lab
        finally:
            lab.enforcer().teardown()


def _ban(key: str, jail: str) -> Change:
    return Change("add", Ban(key, jail, start=time.time(), until=time.time() + 600))


def _within(count: int, expected: float) -> bool:
    """Whether a measured count is the expected one, give or take 30 %."""
    return 0.7 * expected <= count <= 1.3 * expected


@pytest.mark.root
def test_throttled_sources_pass_slowly_each_with_its_own_budget(lab: Lab) -> None:
    enforcer = lab.enforcer()
    enforcer.setup([
        JailFirewall("slow", (str(PORT),), "udp", action="throttle", rate="10/second", burst=5),
        JailFirewall("hard", (str(PORT),), "udp"),
    ])
    enforcer.apply([_ban(SLOW_PREFIX, "slow"), _ban(SLOW6, "slow"), _ban(BANNED4, "hard")],
                   now=time.time())

    counts = lab.send([SLOW_A, SLOW_B, SLOW6, BANNED4, LEGIT4], packets=100, seconds=2.0)

    assert counts[LEGIT4] == 100
    assert counts[BANNED4] == 0
    # 10/s for 2 s plus the burst of 5 that nft's bucket starts with: 25 of the 100 each,
    # and not 25 shared between A and B, which are banned through one prefix.
    for source in (SLOW_A, SLOW_B, SLOW6):
        assert _within(counts[source], 10 * 2.0 + 5), (source, counts)


@pytest.mark.root
def test_byte_rate_throttles_bandwidth_and_unban_lifts_it(lab: Lab) -> None:
    enforcer = lab.enforcer()
    enforcer.setup([JailFirewall("bw", action="throttle", rate="20 kbytes/second")])
    ban = _ban(SLOW_A, "bw")
    enforcer.apply([ban], now=time.time())

    counts = lab.send([SLOW_A, LEGIT4], packets=100, seconds=1.0)

    assert counts[LEGIT4] == 100
    # 20 KiB/s for 1 s plus the bucket's start (one period's worth without a burst):
    # about 41 of the 100 packets of 1000 bytes.
    assert _within(counts[SLOW_A], 2 * 20 * 1024 / 1000), counts

    enforcer.apply([Change("remove", ban.ban)], now=time.time())
    assert lab.send([SLOW_A], packets=50, seconds=0.2)[SLOW_A] == 50
