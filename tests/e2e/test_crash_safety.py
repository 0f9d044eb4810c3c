"""Bans survive kill -9 in the middle of a burst, and a table deleted under the daemon.

The daemon runs in a network namespace with real nftables; a log of 6,000 attacking
addresses (one failure each bans: maxretry = 1) is written in bursts while the daemon is
killed with SIGKILL at random moments.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.configs import floodwall_toml, scanner_jail
from tests.support.lines import access_line
from tests.support.netns import Namespace, network, skip_reason
from tests.support.waiting import wait_until

REASON = skip_reason(("ip", "nft"))
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

ATTACKERS = 6000
ROUNDS = 3
BAN_LINE = re.compile(r" INFO floodwall: ban (\S+) jail=burst ")


def _address(n: int) -> str:
    return f"198.18.{n // 250}.{n % 250 + 1}"  # the benchmarking range, never a real host


def _line(n: int) -> str:
    return access_line(_address(n), "/wp-login.php.bak", agent="burst")


class Node:
    """`floodwall run` in the namespace, started and killed at will."""

    def __init__(self, namespace: Namespace, root: Path) -> None:
        self.namespace = namespace
        self.root = root
        self.round = 0
        self.process: subprocess.Popen[str] | None = None

    @property
    def log(self) -> Path:
        return self.root / f"daemon-{self.round}.log"

    def start(self) -> None:
        self.round += 1
        with open(self.log, "w") as output:
            self.process = self.namespace.popen(
                [sys.executable, "-m", "floodwall", "run", "--config",
                 str(self.root / "floodwall.toml")], stdout=output, stderr=output)
        wait_until(lambda: "floodwall running" in self.log.read_text(), 60,
                   f"the daemon to start (round {self.round})", interval=0.1)

    def reported(self) -> list[str]:
        """Addresses the daemon logged as banned (ledger and firewall done) this round."""
        return BAN_LINE.findall(self.log.read_text())

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            assert self.process.wait(timeout=30) == 0, self.log.read_text()[-2000:]

    def ledger(self) -> list[str]:
        result = self.namespace.run([sys.executable, "-m", "floodwall", "bans", "--json",
                                     "--config", str(self.root / "floodwall.toml")])
        return [json.loads(line)["address"] for line in result.stdout.splitlines()]

    def firewall(self) -> set[str]:
        listing = json.loads(self.namespace.run(
            ["nft", "-j", "list", "table", "inet", "floodwall"]).stdout)
        found: set[str] = set()
        for item in listing["nftables"]:
            for element in item.get("set", {}).get("elem", []):
                value = element["elem"]["val"] if isinstance(element, dict) else element
                found.add(str(value))
        return found


def test_kill_9_during_a_burst_of_bans_loses_none(tmp_path: Path) -> None:
    random.seed(20261122)
    access_log = tmp_path / "access.log"
    # One failing GET bans for a day.
    floodwall_toml(tmp_path, {"burst": scanner_jail(access_log, maxretry=1, bantime="1d",
                                                    findtime=None)},
                   floodwall={"backend": "nftables"})
    access_log.touch()
    with network(1) as (namespace,):
        node = Node(namespace, tmp_path)
        written = 0
        reported: set[str] = set()
        for _ in range(ROUNDS):
            node.start()
            # Everything reported before the previous kill is back, in ledger and firewall.
            active = node.ledger()
            assert len(active) == len(set(active)), "a ban is in the ledger twice"
            assert reported <= set(active), sorted(reported - set(active))[:5]
            assert reported <= node.firewall(), sorted(reported - node.firewall())[:5]
            target = written + ATTACKERS // ROUNDS
            with open(access_log, "a") as log:
                while written < target:  # bursts of 100 lines, as a busy server writes them
                    log.write("".join(_line(n) for n in range(written, written + 100)))
                    log.flush()
                    written += 100
            kill_after = random.randint(200, ATTACKERS // ROUNDS - 200)
            wait_until(lambda kill_after=kill_after: len(node.reported()) >= kill_after, 60,
                       f"{kill_after} bans reported", interval=0.02)
            node.kill()
            reported |= set(node.reported())
        node.start()
        wait_until(lambda: len(node.ledger()) == ATTACKERS, 120,
                   "every attacker banned after the last restart", interval=0.5)
        active = node.ledger()
        assert len(active) == len(set(active)) == ATTACKERS
        assert reported <= set(active)
        assert node.firewall() == {_address(n) for n in range(ATTACKERS)}

        # Reboot: the table disappears under the running daemon; a restart rebuilds it all.
        namespace.run(["nft", "delete", "table", "inet", "floodwall"])
        node.stop()
        node.start()
        assert node.firewall() == {_address(n) for n in range(ATTACKERS)}
        node.stop()
