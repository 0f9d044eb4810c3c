"""The daemon's HTTP side for real: aiohttp on the daemon's loop, httpx and headless Chromium
as clients, SQLite, and a ban made from lines fed to the ban path; the firewall is the
recording twin (nftables itself is in tests/e2e/test_http_api_nftables.py)."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from floodwall.clock import ManualClock
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.reporting.html import BAN_COLOUR, BAR_COLOUR
from floodwall.server.daemon import Daemon
from floodwall.server.http import HttpServer
from tests.support.chromium import colour_share, hex_colour, render, skip_reason
from tests.support.configs import load, scanner_jail
from tests.support.daemons import with_daemon
from tests.support.lines import T0, access_line, source_lines

Body = Callable[[Daemon, RecordingEnforcer, httpx.AsyncClient, str], Awaitable[None]]


def _scenario(root: Path, body: Body) -> None:
    """Run `body` with a started daemon serving HTTP on a loopback port, on a manual clock,
    after its ban path was fed 8.8.8.8's three failing GETs (maxretry 3: a ban of `web`)."""
    log = root / "www" / "shop.example" / "logs" / "access.log"
    config = load(root, {"web": scanner_jail(root / "www" / "*" / "logs" / "access.log",
                                             maxretry=3)},
                  http={"enabled": True, "listen": "127.0.0.1:0"})
    enforcer = RecordingEnforcer()
    server = HttpServer(config.http)

    async def main(daemon: Daemon) -> None:
        daemon.process(source_lines(log, "".join(
            access_line("8.8.8.8", path, agent="scanner", when=T0)
            for path in ("/.env", "/wp-admin/", "/.git/HEAD"))))
        token = Path(config.http.token_file).read_text().strip()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}",
                                     timeout=10) as client:
            await body(daemon, enforcer, client, token)

    with_daemon(config, main, enforcer=enforcer, clock=ManualClock(T0), addons=[server],
                timeout=90)


def test_state_changes_need_the_token(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer, client: httpx.AsyncClient,
                   token: str) -> None:
        token_file = Path(daemon.config.http.token_file)
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and len(token) >= 32

        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = await client.post("/api/ban", json={"address": "203.0.113.5"},
                                        headers=headers)
            assert refused.status_code == 401 and "Bearer" in refused.json()["error"]
            assert refused.headers["WWW-Authenticate"] == "Bearer"
        refused = await client.post("/api/unban", json={"address": "8.8.8.8"})
        assert refused.status_code == 401
        assert enforcer.elements()["manual"] == [] and enforcer.elements()["web"] == ["8.8.8.8"]

        auth = {"Authorization": f"Bearer {token}"}
        banned = await client.post("/api/ban", headers=auth,
                                   json={"address": "203.0.113.5", "bantime": "10m",
                                         "reason": "from the API"})
        assert banned.status_code == 200, banned.text
        assert [b["address"] for b in banned.json()["bans"]] == ["203.0.113.5"]
        assert enforcer.elements()["manual"] == ["203.0.113.5"]

        bad = await client.post("/api/ban", headers=auth, json={"address": "$(reboot)"})
        assert bad.status_code == 400 and "not an IP" in bad.json()["error"]
        bad = await client.post("/api/ban", headers=auth, content=b"not json")
        assert bad.status_code == 400

        found = (await client.get("/api/bans", params={"q": "API"})).json()["bans"]
        assert [b["address"] for b in found] == ["203.0.113.5"]
        everything = (await client.get("/api/bans")).json()["bans"]
        google = next(b for b in everything if b["address"] == "8.8.8.8")
        assert google["recon"]["as_name"] == "GOOGLE" and google["recon"]["country"] == "US"
        found = (await client.get("/api/bans", params={"q": "google"})).json()["bans"]
        assert [b["address"] for b in found] == ["8.8.8.8"]

        lifted = await client.post("/api/unban", headers=auth, json={"address": "203.0.113.5"})
        assert lifted.status_code == 200 and len(lifted.json()["removed"]) == 1
        assert enforcer.elements()["manual"] == []
        history = (await client.get("/api/bans", params={"history": "10", "q": "203.0.113.5"}))
        assert [b["active"] for b in history.json()["bans"]] == [False]

        status = (await client.get("/api/status")).json()
        assert status["active_bans"] == 1 and status["lines_read"] == 3

    _scenario(tmp_path, body)


def test_metrics(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer, client: httpx.AsyncClient,
                   token: str) -> None:
        await client.post("/api/ban", json={"address": "203.0.113.5"},
                          headers={"Authorization": f"Bearer {token}"})
        answer = await client.get("/metrics")
        assert answer.headers["content-type"].startswith("text/plain")
        values = {}
        for line in answer.text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        assert values["floodwall_lines_read_total"] == 3
        assert values['floodwall_failures_total{jail="web"}'] == 3
        assert values['floodwall_bans_total{jail="web"}'] == 1
        assert values['floodwall_bans_total{jail="manual"}'] == 1
        assert values['floodwall_active_bans{jail="web"}'] == 1
        assert values["floodwall_ban_latency_seconds_count"] == 1  # the ban from the log
        assert values['floodwall_ban_latency_seconds_bucket{le="+Inf"}'] == 1

    _scenario(tmp_path, body)


def test_a_token_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    from floodwall.errors import ConfigError
    from floodwall.server.http import ensure_token

    path = tmp_path / "token"
    path.write_text("x" * 40)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        ensure_token(str(path))


@pytest.mark.skipif(skip_reason() is not None, reason=f"LOUD SKIP: {skip_reason()}")
def test_the_live_dashboard_renders_in_chromium(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer, client: httpx.AsyncClient,
                   token: str) -> None:
        await client.post("/api/ban", json={"address": "1.1.1.1", "reason": "seen on the map"},
                          headers={"Authorization": f"Bearer {token}"})
        url = f"{client.base_url}/"
        # 12 s of page time: the page refreshes itself once (fetch of /fragment) meanwhile.
        shot = await asyncio.to_thread(render, url, tmp_path / "chromium",
                                       virtual_time_ms=12_000)
        assert shot.console == [], shot.console
        assert colour_share(shot.png, hex_colour(BAN_COLOUR), box=(0, 0, 1200, 900)) > 0.0003
        assert colour_share(shot.png, hex_colour(BAR_COLOUR), box=(0, 300, 1200, 1400)) > 0.005
        assert "Active bans (2)" in shot.dom
        assert "<td>1.1.1.1</td>" in shot.dom and "CLOUDFLARENET" in shot.dom
        assert 'id="search"' in shot.dom

    _scenario(tmp_path, body)
