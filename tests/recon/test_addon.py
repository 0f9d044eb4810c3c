"""The recon addon in a real daemon: bans happen at once while recon waits on dead servers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from floodwall.config.loader import load_config
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.recon.addon import ReconAddon
from floodwall.server.daemon import Daemon
from tests.recon.servers import DnsServer, rdap_server

CONFIG = """
[floodwall]
state_dir = "{root}/state"
socket = "{root}/control.sock"
backend = "dry-run"
new_files_from = "start"

[recon]
resolver = "{dns}"
rdap_url = "{rdap}"
timeout = 1.5
rdap_interval = 0

[jails.web]
logpath = ["{root}/www/*/logs/access.log"]
methods = ["GET"]
status = [404]
maxretry = 2
findtime = "5m"
bantime = "1h"
"""


def _line(client: str) -> str:
    return (f'{client} - - [02/Mar/2026:08:00:00 +0000] "GET /wp-admin/ HTTP/1.1" 404 153 '
            '"-" "scanner"\n')


def _append(path: Path, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


def test_bans_are_not_delayed_while_recon_waits(tmp_path: Path) -> None:
    log = tmp_path / "www" / "a.example" / "logs" / "access.log"
    log.parent.mkdir(parents=True)
    log.touch()
    with DnsServer({}, silent=True) as dns_server, \
            rdap_server({}, hang=True) as (rdap_url, rdap_requests):
        path = tmp_path / "floodwall.toml"
        path.write_text(CONFIG.format(root=tmp_path, dns=dns_server.address, rdap=rdap_url))
        config = load_config(path)
        recon = ReconAddon(config.recon)
        enforcer = RecordingEnforcer()

        async def main() -> None:
            daemon = Daemon(config, enforcer=enforcer, addons=[recon])
            await daemon.start()
            try:
                started = time.monotonic()
                for n in range(1, 6):
                    await daemon.handle_request({"command": "ban", "address": f"198.51.100.{n}"})
                elapsed = time.monotonic() - started
                assert elapsed < 0.5, f"5 manual bans took {elapsed:.2f}s"
                assert len(enforcer.elements()["manual"]) == 5
                assert recon.pending() == 5  # queued, not yet looked up

                # Bans from the logs go through the same path, just as fast.
                await asyncio.to_thread(_append, log, _line("203.0.113.9") * 2)
                for _ in range(250):
                    if enforcer.elements()["web"] == ["203.0.113.9"]:
                        break
                    await asyncio.sleep(0.02)
                assert enforcer.elements()["web"] == ["203.0.113.9"]
                counts = [s.value for s in daemon.ban_latency.collect()[0].samples
                          if s.name.endswith("_count")]
                assert counts == [1.0]  # the log ban's latency was measured
                assert recon.pending() >= 1, "recon must still be waiting on the dead servers"

                # Recon finishes on its own: failures recorded (and bounded by the timeout).
                for _ in range(300):
                    if recon.pending() == 0:
                        break
                    await asyncio.sleep(0.05)
                assert recon.pending() == 0
                assert recon.enricher is not None
                known = recon.enricher.known("198.51.100.1")
                assert set(known.errors) == {"dns", "rdap"}
                assert dns_server.queries and rdap_requests
            finally:
                await daemon.shutdown()

        asyncio.run(asyncio.wait_for(main(), timeout=60))
