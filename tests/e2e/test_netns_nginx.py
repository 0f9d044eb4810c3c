"""End to end: real nginx writes its log, floodwall bans the attacker in nftables.

Three namespaces the test creates: `web` (nginx + floodwall), `attacker` and `client`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.configs import floodwall_toml, scanner_jail
from tests.support.netns import Link, Namespace, network, skip_reason
from tests.support.nginx import start_nginx
from tests.support.waiting import wait_until

WEB_FOR_ATTACKER, ATTACKER = "192.0.2.1", "192.0.2.66"
WEB_FOR_CLIENT, CLIENT = "198.51.100.1", "198.51.100.10"
BANTIME = 12

REASON = skip_reason(("ip", "nft", "nginx", "curl"))
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

NGINX_HTTP = """
    server {
        listen 80;
        server_name site1.example;
        access_log {root}/www/site1.example/logs/access.log combined;
        location = /ok { return 200 "ok\\n"; }
        location / { return 404; }
    }
"""

class Floodwall:
    """`floodwall run` inside the web namespace."""

    def __init__(self, web: Namespace, root: Path) -> None:
        self.web = web
        self.root = root
        self.process: subprocess.Popen[str] | None = None
        self.log = root / "floodwall.log"

    def _starts(self) -> int:
        return self.log.read_text().count("floodwall running") if self.log.exists() else 0

    def start(self) -> None:
        before = self._starts()
        with open(self.log, "a") as log:
            self.process = self.web.popen(
                [sys.executable, "-m", "floodwall", "run", "--config",
                 str(self.root / "floodwall.toml")], stdout=log, stderr=log)
        wait_until(lambda: self._starts() > before, 20,
                   "floodwall to start (see floodwall.log)")

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=15) == 0, self.log.read_text()[-2000:]

    def cli(self, *args: str) -> str:
        result = self.web.run([sys.executable, "-m", "floodwall", *args,
                               "--config", str(self.root / "floodwall.toml")])
        return result.stdout


def _banned(web: Namespace) -> list[str]:
    result = web.run(["nft", "-j", "list", "table", "inet", "floodwall"], check=False)
    assert result.returncode == 0, f"nft list failed: {result.stderr}"
    listing = json.loads(result.stdout)
    found = []
    for item in listing["nftables"]:
        for element in item.get("set", {}).get("elem", []):
            value = element.get("elem", {}).get("val", element) if isinstance(
                element, dict) else element
            found.append(str(value))
    return found


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[tuple[list[Namespace], Floodwall]]:
    root = tmp_path
    (root / "www" / "site1.example" / "logs").mkdir(parents=True)
    floodwall_toml(root, {"http-get-dos": scanner_jail(
        root / "www" / "*" / "logs" / "access.log", maxretry=8, findtime="1m", bantime=BANTIME,
        status=[401, 403, 404, 503], path_not=r"^/robots\.txt$", ports=["http"])},
        floodwall={"backend": "nftables", "new_files_from": None},
        defaults={"ignoreip": ["127.0.0.0/8"]})
    links = [Link(0, 1, (f"{WEB_FOR_ATTACKER}/24",), (f"{ATTACKER}/24",)),
             Link(0, 2, (f"{WEB_FOR_CLIENT}/24",), (f"{CLIENT}/24",))]
    with network(3, links) as namespaces:
        web = namespaces[0]
        start_nginx(web, root, NGINX_HTTP)
        wait_until(lambda: namespaces[2].connects(WEB_FOR_CLIENT, 80), 15, "nginx to listen")
        floodwall = Floodwall(web, root)
        floodwall.start()
        try:
            yield namespaces, floodwall
        finally:
            if floodwall.process is not None and floodwall.process.poll() is None:
                floodwall.stop()


def _curl(namespace: Namespace, url: str) -> str:
    result = namespace.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            "--max-time", "2", url], check=False)
    return result.stdout


def test_attacker_is_dropped_survives_restart_and_comes_back_after_expiry(
        site: tuple[list[Namespace], Floodwall]) -> None:
    (web, attacker, client), floodwall = site
    assert _curl(client, f"http://{WEB_FOR_CLIENT}/ok") == "200"
    # 7 failures: one below the threshold, nothing happens.
    for n in range(7):
        assert _curl(attacker, f"http://{WEB_FOR_ATTACKER}/wp-admin/{n}?ip=198.51.100.10") == "404"
    assert attacker.connects(WEB_FOR_ATTACKER, 80)
    # The 8th failing GET crosses the threshold: the next TCP connection is dropped.
    assert _curl(attacker, f"http://{WEB_FOR_ATTACKER}/.env") == "404"
    banned_at = time.monotonic()
    wait_until(lambda: not attacker.connects(WEB_FOR_ATTACKER, 80, timeout=0.3), 5,
               "the attacker to be dropped")
    assert client.connects(WEB_FOR_CLIENT, 80), "the legitimate client must still connect"
    assert _banned(web) == [ATTACKER]  # the address in the URL was never banned
    bans = [json.loads(line) for line in floodwall.cli("bans", "--json").splitlines()]
    assert [(b["address"], b["jail"], b["failures"]) for b in bans] == [
        (ATTACKER, "http-get-dos", 8)]

    # Restart during the ban, with the table gone as after a reboot: rebuilt from the ledger.
    floodwall.stop()
    web.run(["nft", "delete", "table", "inet", "floodwall"])
    assert attacker.connects(WEB_FOR_ATTACKER, 80)
    floodwall.start()
    assert _banned(web) == [ATTACKER]
    assert not attacker.connects(WEB_FOR_ATTACKER, 80, timeout=0.5)
    assert client.connects(WEB_FOR_CLIENT, 80)

    # The ban expires by itself.
    wait_until(lambda: attacker.connects(WEB_FOR_ATTACKER, 80, timeout=0.3),
               BANTIME + 10, "the ban to expire")
    assert time.monotonic() - banned_at >= BANTIME - 1
    assert _curl(attacker, f"http://{WEB_FOR_ATTACKER}/ok") == "200"
