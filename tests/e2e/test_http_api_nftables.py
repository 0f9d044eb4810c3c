"""The HTTP API changes the real firewall: `floodwall run` with nftables and [http] in a test
namespace; without the token nothing happens, with it the attacker is dropped and let back.
The daemon's JSON log carries every ban and unban with what recon knew."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.configs import floodwall_toml
from tests.support.netns import (
    Link,
    Namespace,
    network,
    skip_reason,
    start_tcp_listener,
    wait_for_tcp,
)
from tests.support.waiting import wait_until

REASON = skip_reason(("ip", "nft", "curl"))
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

WEB, ATTACKER = "192.0.2.1", "192.0.2.66"
API = "http://127.0.0.1:9180"
def _curl(web: Namespace, method: str, path: str, body: dict[str, str] | None = None,
          token: str | None = None) -> tuple[int, dict[str, object]]:
    command = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "5", "-X", method]
    if token is not None:
        command += ["-H", f"Authorization: Bearer {token}"]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
    result = web.run([*command, f"{API}{path}"], check=False)
    text, _, code = result.stdout.rpartition("\n")
    return int(code), json.loads(text) if text.startswith("{") else {}


def _log_events(log: Path) -> list[dict[str, object]]:
    events = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") in ("ban", "unban"):
                events.append(entry)
    return events


def test_api_bans_and_unbans_in_nftables_only_with_the_token(tmp_path: Path) -> None:
    floodwall_toml(tmp_path, {"web": {"logpath": [tmp_path / "access.log"]}},
                   floodwall={"backend": "nftables", "new_files_from": None},
                   # nothing answers inside the namespace: recon records failures
                   recon={"resolver": "127.0.0.1:53", "rdap_url": "", "timeout": 1},
                   http={"enabled": True, "listen": "127.0.0.1:9180",  # loopback of the namespace
                         "token_file": tmp_path / "api.token"},
                   logging={"json": True})
    (tmp_path / "access.log").touch()
    log = tmp_path / "floodwall.log"
    with network(2, [Link(0, 1, (f"{WEB}/24",), (f"{ATTACKER}/24",))]) as (web, attacker):
        start_tcp_listener(web, [8080])
        wait_for_tcp(attacker, WEB, 8080)
        with open(log, "w") as output:
            daemon = web.popen([sys.executable, "-m", "floodwall", "run", "--config",
                                str(tmp_path / "floodwall.toml")], stdout=output,
                               stderr=subprocess.STDOUT)
        wait_until(lambda: "floodwall running" in log.read_text(), 20,
                   "floodwall to start (see floodwall.log)")
        wait_until(lambda: _curl(web, "GET", "/api/status")[0] == 200, 10, "the API")
        token_file = tmp_path / "api.token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()

        code, answer = _curl(web, "POST", "/api/ban", {"address": ATTACKER})
        assert code == 401 and "Bearer" in str(answer["error"])
        code, _ = _curl(web, "POST", "/api/ban", {"address": ATTACKER}, token="guess")
        assert code == 401
        assert attacker.connects(WEB, 8080), "a refused request must change nothing"

        code, answer = _curl(web, "POST", "/api/ban", {"address": ATTACKER, "bantime": "10m"},
                             token=token)
        assert code == 200, answer
        wait_until(lambda: not attacker.connects(WEB, 8080, timeout=0.3), 5,
                   "the attacker to be dropped")
        listing = web.run(["nft", "list", "table", "inet", "floodwall"]).stdout
        assert ATTACKER in listing

        code, _ = _curl(web, "POST", "/api/unban", {"address": ATTACKER})
        assert code == 401
        assert not attacker.connects(WEB, 8080, timeout=0.3)
        code, answer = _curl(web, "POST", "/api/unban", {"address": ATTACKER}, token=token)
        assert code == 200 and len(answer["removed"]) == 1  # type: ignore[arg-type]
        wait_until(lambda: attacker.connects(WEB, 8080, timeout=0.3), 5,
                   "the attacker to be let back")

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0, log.read_text()[-2000:]
        events = _log_events(log)
        assert [(e["event"], e["address"], e["jail"]) for e in events] == [
            ("ban", ATTACKER, "manual"), ("unban", ATTACKER, "manual")]
        assert set(events[0]["recon"]) == {  # type: ignore[arg-type]
            "address", "rdns", "asn", "as_name", "country", "network", "abuse", "open_ports"}
