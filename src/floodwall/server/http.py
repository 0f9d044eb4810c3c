"""The daemon's HTTP side on its own event loop: the live dashboard, a JSON API and
Prometheus metrics. Reading is open (the default address is loopback only); anything that
changes state needs `Authorization: Bearer TOKEN`, the token being in a root-only file.

    GET  /                 dashboard (same views as `floodwall report`, plus active bans)
    GET  /api/status       the daemon's counters and jails
    GET  /api/bans?q=TEXT  active bans (with &history=N also the N newest ended ones), searched
    GET  /api/recon/ADDR   what is known about an address (cache and offline data)
    GET  /api/report?since=7d
    POST /api/ban          {"address", "jail"?, "bantime"?, "reason"?, "force"?}   (token)
    POST /api/unban        {"address", "jail"?}                                    (token)
    GET  /metrics          Prometheus text format
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from aiohttp import web

from floodwall.bans.addons import Addon, AddonHost
from floodwall.errors import ConfigError, ControlError
from floodwall.matching.accesslog import request_reader
from floodwall.model import Ban
from floodwall.recon.addon import ReconAddon
from floodwall.recon.enricher import Enricher, build_enricher
from floodwall.reporting.html import ActiveBan, render_body, render_html
from floodwall.reporting.stats import Report, build_report
from floodwall.server.metrics import CONTENT_TYPE, render_metrics
from floodwall.settings.durations import parse_duration
from floodwall.settings.values import HttpConfig

log = logging.getLogger("floodwall.http")
DEFAULT_SINCE = "7d"
REFRESH_SECONDS = 10
MAX_BODY_BYTES = 65536


def ensure_token(path: str) -> str:
    """The API token in `path`, created (random, mode 0600) if missing; refused if others
    can read it."""
    file = Path(path)
    try:
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"the API token file is readable by others (mode "
                              f"{stat.S_IMODE(mode):o}); run chmod 600 {path}",
                              path=path) from None
        token = file.read_text(encoding="utf-8").strip()
        if len(token) < 16:
            raise ConfigError("the API token file holds no token of at least 16 characters; "
                              "delete it and floodwall makes a new one", path=path) from None
        return token
    except OSError as problem:
        raise ConfigError(f"cannot create the API token file: {problem.strerror}; "
                          "set [http] token_file to a writable place", path=path) from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    log.info("created the HTTP API token in %s (mode 0600)", path)
    return token


class HttpServer(Addon):
    """An addon serving the dashboard, API and metrics for the daemon it is started with."""

    def __init__(self, config: HttpConfig, recon: ReconAddon | None = None) -> None:
        self.config = config
        self.recon = recon
        self.port: int | None = None
        """The port actually bound (useful when listen asks for port 0)."""
        self._host: AddonHost | None = None
        self._enricher: Enricher | None = None
        self._token = ""
        self._runner: web.AppRunner | None = None

    async def on_start(self, host: AddonHost) -> None:
        """Read (or make) the token and start listening."""
        self._host = host
        self._token = ensure_token(self.config.token_file)
        if self.recon is not None and self.recon.enricher is not None:
            self._enricher = self.recon.enricher
        else:
            self._enricher = build_enricher(host.config.recon, host.database,
                                            clock=host.clock, network=False)
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_errors])
        app.add_routes([
            web.get("/", self._dashboard), web.get("/fragment", self._fragment),
            web.get("/api/status", self._status), web.get("/api/bans", self._bans),
            web.get("/api/recon/{address}", self._recon), web.get("/api/report", self._report),
            web.post("/api/ban", self._ban), web.post("/api/unban", self._unban),
            web.get("/metrics", self._metrics)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        address, _, port = self.config.listen.rpartition(":")
        site = web.TCPSite(self._runner, address.strip("[]"), int(port))
        try:
            await site.start()
        except OSError as problem:
            await self._runner.cleanup()
            raise ConfigError(f"[http] listen = {self.config.listen!r}: cannot listen there: "
                              f"{problem.strerror}; pick a free address:port") from None
        server = site._server  # aiohttp keeps the asyncio server here; it knows the real port
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else int(port)
        log.info("dashboard and API on http://%s:%s/", address, self.port)

    @property
    def _daemon(self) -> AddonHost:
        """The daemon this server answers for (its routes exist only once started)."""
        assert self._host is not None
        return self._host

    async def on_stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- reading ------------------------------------------------------------------------

    async def _dashboard(self, request: web.Request) -> web.Response:
        report, bans = self._views(request)
        page = render_html(report, title="floodwall dashboard", bans=bans,
                           refresh_seconds=REFRESH_SECONDS)
        return web.Response(text=page, content_type="text/html", headers=_NO_CACHE)

    async def _fragment(self, request: web.Request) -> web.Response:
        report, bans = self._views(request)
        return web.Response(text=render_body(report, bans), content_type="text/html",
                            headers=_NO_CACHE)

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(await self._daemon.handle_request({"command": "status"}))

    async def _bans(self, request: web.Request) -> web.Response:
        assert self._enricher is not None
        answer = await self._daemon.handle_request({"command": "bans"})
        rows = [{**ban, "active": True} for ban in answer["bans"]]
        history = _int(request.query.get("history", "0"), "history")
        if history:
            rows += [{**_ended_json(s.ban), "active": False, "ended": s.ended,
                      "end_reason": s.end_reason}
                     for s in self._daemon.database.recent_bans(history) if s.ended is not None]
        for row in rows:
            row["recon"] = self._enricher.known(row["address"]).to_json()
        needle = request.query.get("q", "").strip().lower()
        if needle:
            rows = [row for row in rows if needle in json.dumps(row).lower()]
        return web.json_response({"ok": True, "bans": rows})

    async def _recon(self, request: web.Request) -> web.Response:
        assert self._enricher is not None
        address = request.match_info["address"]
        try:
            known = self._enricher.known(address)
        except ValueError:
            raise ControlError(f"{address!r} is not an IP address or network") from None
        return web.json_response({"ok": True, **known.to_json(), "errors": dict(known.errors)})

    async def _report(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, **self._report_view(request).to_json()})

    async def _metrics(self, request: web.Request) -> web.Response:
        body = render_metrics(self._daemon, self.recon)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    # --- changing state (token) ---------------------------------------------------------

    async def _ban(self, request: web.Request) -> web.Response:
        body = await self._authorised_body(request)
        answer = await self._daemon.handle_request({**_pick(body, "address", "jail", "bantime",
                                                             "reason", "force"),
                                                    "command": "ban"})
        return web.json_response(answer)

    async def _unban(self, request: web.Request) -> web.Response:
        body = await self._authorised_body(request)
        answer = await self._daemon.handle_request({**_pick(body, "address", "jail"),
                                                    "command": "unban"})
        return web.json_response(answer)

    async def _authorised_body(self, request: web.Request) -> dict[str, Any]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 self._token.encode()):
            raise web.HTTPUnauthorized(
                text=json.dumps({"ok": False, "error": "this request changes state: send "
                                 "'Authorization: Bearer TOKEN' with the token from "
                                 f"{self.config.token_file}"}),
                content_type="application/json", headers={"WWW-Authenticate": "Bearer"})
        try:
            body = await request.json()
        except ValueError:
            raise ControlError("the request body must be a JSON object") from None
        if not isinstance(body, dict):
            raise ControlError("the request body must be a JSON object")
        return body

    # --- shared -------------------------------------------------------------------------

    def _report_view(self, request: web.Request) -> Report:
        """The report over the `since` the request asks for (default DEFAULT_SINCE)."""
        assert self._enricher is not None
        try:
            since = parse_duration(request.query.get("since", DEFAULT_SINCE))
        except ValueError as problem:
            raise ControlError(f"since: {problem}") from None
        now = self._daemon.clock.now()
        return build_report(self._daemon.database, since=now - since, now=now,
                            lookup=self._enricher.known, requests=request_reader())

    def _views(self, request: web.Request) -> tuple[Report, list[ActiveBan]]:
        """The report, and the active bans newest first with what recon knows of each."""
        assert self._enricher is not None
        enricher = self._enricher
        report = self._report_view(request)
        now = self._daemon.clock.now()
        bans = []
        for ban in sorted(self._daemon.bans.ledger.active(), key=lambda b: -b.start):
            who = enricher.known(ban.key)
            bans.append(ActiveBan(ban.key, ban.jail, ban.start, ban.remaining(now), ban.count,
                                  who.network_label(), who.country, ban.reason))
        return report, bans


_NO_CACHE = {"Cache-Control": "no-store"}


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Operator errors become JSON 400 answers instead of tracebacks."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ControlError as problem:
        return web.json_response({"ok": False, "error": str(problem)}, status=400)


def _pick(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: body[key] for key in keys if key in body}


def _int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ControlError(f"{name} must be a whole number, got {text!r}") from None
    return max(0, min(value, 10_000))


def _ended_json(ban: Ban) -> dict[str, Any]:
    return {"address": ban.key, "jail": ban.jail, "start": ban.start, "until": ban.until,
            "remaining": 0, "failures": ban.count, "origin": ban.origin, "reason": ban.reason}
