"""Real servers on loopback for recon tests: a DNS server answering from a table (or never),
an RDAP server serving recorded JSON (or never answering). Each counts what it was asked."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

DATA = Path(__file__).parent / "data"


class DnsServer:
    """UDP DNS on 127.0.0.1:PORT answering from `records` {(name, type): [values]};
    silent=True reads queries and never answers (a dead resolver)."""

    def __init__(self, records: Mapping[tuple[str, str], list[str]], silent: bool = False) -> None:
        self.records = {(n.lower().rstrip(".") + ".", t): v for (n, t), v in records.items()}
        self.silent = silent
        self.queries: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            question = query.question[0]
            kind = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((question.name.to_text(), kind))
            if self.silent:
                continue
            answer = dns.message.make_response(query)
            answer.flags |= dns.flags.AA
            values = self.records.get((question.name.to_text().lower(), kind))
            if values:
                answer.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", kind,
                                                              values))
            elif not any(name == question.name.to_text().lower() for name, _ in self.records):
                answer.set_rcode(dns.rcode.NXDOMAIN)
            self._socket.sendto(answer.to_wire(), peer)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


@contextmanager
def rdap_server(records: Mapping[str, str], *, hang: bool = False
                ) -> Iterator[tuple[str, list[tuple[float, str]]]]:
    """An RDAP server on loopback: GET /ip/ADDRESS answers DATA/records[ADDRESS] (404 for
    others); hang=True accepts and never answers. Yields (base URL, [(monotonic time, path)])."""
    requests: list[tuple[float, str]] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append((time.monotonic(), self.path))
            if hang:
                release.wait(30)
                return
            name = records.get(self.path.removeprefix("/ip/"))
            if name is None:
                self.send_error(404)
                return
            body = json.dumps(json.loads((DATA / name).read_text())).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rdap+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
