"""Fetching: GET only, deadlines, refused ports, redirect loops, concurrency and rate limits,
against small servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from floodwall.audit import FetchOptions, audit_sync
from floodwall.errors import ConfigError
from floodwall.pacing import HostPacers
from tests.audit.servers import free_ports, recording_server, silent_server


def ok(handler: BaseHTTPRequestHandler) -> None:
    """A small HTML page with one header."""
    body = b"<html><script src='/a.js'></script></html>"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("X-Content-Type-Options", "nosniff")
    handler.end_headers()
    if handler.command == "GET":
        handler.wfile.write(body)


def test_rate_limiter_spaces_requests_per_host() -> None:
    clock = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = HostPacers(2.0, now=lambda: clock[0], sleep=sleep)

    async def scenario() -> None:
        async with limiter.turn("a.example"):  # t=0, first: no wait
            clock[0] += 0.25                     # the request takes 0.25 s
        async with limiter.turn("b.example"):  # another host: no wait
            pass
        async with limiter.turn("a.example"):  # 0.5 s after the first one ended
            pass
        clock[0] += 2.0                          # a quiet while later...
        async with limiter.turn("a.example"):  # ...no wait
            pass
        async with limiter.turn("a.example"):  # waits 0.5 again
            pass

    asyncio.run(scenario())
    assert slept == [0.5, 0.5]


def test_slow_host_times_out_with_a_clear_line() -> None:
    with silent_server() as port:
        url = f"http://127.0.0.1:{port}/"
        started = time.monotonic()
        [result] = audit_sync([url], FetchOptions(timeout=0.5, rate=100))
        elapsed = time.monotonic() - started
    assert result.grade is None and result.findings == ()
    assert result.error == f"timed out after 0.5 s waiting for {url}"
    assert elapsed < 5


def test_closed_port_is_reported_unreachable() -> None:
    [port] = free_ports(1)
    url = f"http://127.0.0.1:{port}/"
    [result] = audit_sync([url], FetchOptions(timeout=2, rate=100))
    assert result.error == f"unreachable: connection refused ({url})"


def test_redirect_loops_are_given_up() -> None:
    def loop(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "/again")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with recording_server(loop) as (port, recorder):
        [result] = audit_sync([f"http://127.0.0.1:{port}/"], FetchOptions(timeout=2, rate=500))
    assert result.error is not None and result.error.startswith("gave up after 10 redirects")
    assert len(recorder.methods) == 11


def test_only_get_is_sent_and_error_pages_are_probed() -> None:
    with recording_server(ok) as (port, recorder):
        [result] = audit_sync([f"http://127.0.0.1:{port}/"], FetchOptions(timeout=2, rate=500))
    assert result.error is None and result.status == 200
    assert recorder.methods == ["GET", "GET"]
    assert "script-src" not in result.csp  # /a.js is same-origin: 'self' covers it


def test_concurrency_is_bounded() -> None:
    lock = threading.Lock()
    in_flight, peak = [0], [0]

    def held(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.1)  # the server is slow on purpose: overlapping requests must show
        with lock:
            in_flight[0] -= 1
        ok(handler)

    # three hosts (one request at a time goes to each), two sites on each
    with recording_server(held, "127.0.0.1") as (one, _), \
            recording_server(held, "127.0.0.2") as (two, _), \
            recording_server(held, "127.0.0.3") as (three, _):
        urls = [f"http://127.0.0.{host}:{port}/{n}" for n in range(2)
                for host, port in ((1, one), (2, two), (3, three))]
        results = audit_sync(urls, FetchOptions(timeout=5, rate=1000, concurrency=2))
    assert [r.error for r in results] == [None] * 6
    assert peak[0] == 2


def test_requests_to_one_host_respect_the_rate() -> None:
    arrivals: list[float] = []

    def timed(handler: BaseHTTPRequestHandler) -> None:
        arrivals.append(time.monotonic())
        ok(handler)

    with recording_server(timed) as (port, _):
        urls = [f"http://127.0.0.1:{port}/{n}" for n in range(3)]
        audit_sync(urls, FetchOptions(timeout=5, rate=20))
    arrivals.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) == 6
    assert min(gaps) >= 0.05  # one request at a time, 1/20 s after the previous one ended
    assert arrivals[-1] - arrivals[0] >= 0.2


def test_invalid_urls_are_reported_not_raised() -> None:
    [result] = audit_sync(["http://[::1"], FetchOptions(timeout=1))
    assert result.error is not None and result.error.startswith("not a valid URL")


def test_an_unreadable_ca_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=f"{bad}: cannot load CA certificates"):
        audit_sync(["https://127.0.0.1:1/"], FetchOptions(ca_file=str(bad)))
