"""The recon addon in a started daemon: bans happen at once while recon waits on dead servers
(a silent DNS resolver, an RDAP server that never answers)."""

from __future__ import annotations

import time
from pathlib import Path

from floodwall.clock import ManualClock
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.recon.addon import ReconAddon
from floodwall.server.daemon import Daemon
from tests.recon.servers import DnsServer, rdap_server
from tests.support.configs import load, scanner_jail
from tests.support.daemons import with_daemon
from tests.support.lines import T0, access_line, source_lines
from tests.support.waiting import until

RECON_TIMEOUT = 0.3
"""Seconds recon waits for each dead server; RDAP asks them one at a time."""


def test_bans_are_not_delayed_while_recon_waits(tmp_path: Path) -> None:
    log = tmp_path / "www" / "a.example" / "logs" / "access.log"
    with DnsServer({}, silent=True) as dns_server, \
            rdap_server({}, hang=True) as (rdap_url, rdap_requests):
        config = load(tmp_path, {"web": scanner_jail(tmp_path / "www" / "*" / "logs" /
                                                     "access.log", maxretry=2)},
                      recon={"resolver": dns_server.address, "rdap_url": rdap_url,
                             "timeout": RECON_TIMEOUT, "rdap_interval": 0})
        recon = ReconAddon(config.recon)
        enforcer = RecordingEnforcer()

        async def body(daemon: Daemon) -> None:
            started = time.monotonic()
            for n in range(1, 6):
                await daemon.handle_request({"command": "ban", "address": f"198.51.100.{n}"})
            elapsed = time.monotonic() - started
            # Waiting on recon would take RECON_TIMEOUT or more per ban.
            assert elapsed < 0.5, f"5 manual bans took {elapsed:.2f}s"
            assert len(enforcer.elements()["manual"]) == 5
            assert recon.pending() == 5  # queued, not yet looked up

            # Bans from the logs go through the same path, just as fast.
            daemon.process(source_lines(log, access_line(
                "203.0.113.9", "/wp-admin/", agent="scanner", when=T0) * 2))
            assert enforcer.elements()["web"] == ["203.0.113.9"]
            counts = [s.value for s in daemon.ban_latency.collect()[0].samples
                      if s.name.endswith("_count")]
            assert counts == [1.0]  # the log ban's latency was measured
            assert recon.pending() >= 1, "recon must still be waiting on the dead servers"

            # Recon finishes on its own: failures recorded (and bounded by the timeout).
            await until(lambda: recon.pending() == 0, "recon to give up on the dead servers",
                        timeout=6 * 2 * RECON_TIMEOUT + 10)
            assert recon.enricher is not None
            known = recon.enricher.known("198.51.100.1")
            assert set(known.errors) == {"dns", "rdap"}
            assert dns_server.queries and rdap_requests

        with_daemon(config, body, enforcer=enforcer, clock=ManualClock(T0), addons=[recon])
