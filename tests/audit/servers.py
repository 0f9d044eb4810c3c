"""Servers the audit tests talk to, all on 127.0.0.1: a real nginx with its own config,
a small recording HTTP server, a server that never answers, and a self-signed certificate."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.nginx import NGINX, nginx_argv, write_config
from tests.support.waiting import wait_until

OPENSSL = shutil.which("openssl")


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports of 127.0.0.1 that nothing listens on right now."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def listening(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1 and localhost, made with openssl."""
    assert OPENSSL, "openssl is needed to make the test certificate"
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    return cert, key


AUDIT_HTTP = """
    log_format audit '$request_method $server_port "$request_uri" $status';
    access_log {root}/access.log audit;
    default_type text/html;
"""
"""The http block lines every audit nginx has: an access log that Nginx.methods() reads."""


@dataclass
class Nginx:
    """A real nginx run by a test: its own config, prefix, logs and loopback ports."""

    root: Path
    ports: list[int]
    process: subprocess.Popen[bytes] | None = None
    _argv: list[str] = field(default_factory=list)

    @property
    def access_log(self) -> Path:
        """The access log, one `METHOD PORT "URI" STATUS` line per request."""
        return self.root / "access.log"

    def methods(self) -> list[str]:
        """HTTP methods of every request logged so far."""
        if not self.access_log.exists():
            return []
        return [line.split()[0] for line in self.access_log.read_text().splitlines() if line]

    def test_config(self) -> None:
        """Fail the test when the current config is invalid (`nginx -t`)."""
        result = subprocess.run([*self._argv, "-t"], check=False, capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, result.stderr

    def workers(self) -> set[int]:
        """Process ids of the master's children (its workers)."""
        assert self.process is not None
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # The fourth field (after the parenthesised name) is the parent's pid.
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.add(int(stat.parent.name))
        return children

    def reload(self, applied: Callable[[], bool]) -> None:
        """Reload the config; wait until the old workers are gone and `applied()` holds."""
        self.test_config()
        old = self.workers()
        subprocess.run([*self._argv, "-s", "reload"], check=True, capture_output=True,
                       timeout=30)
        # Until they exit, old workers may still accept a connection with the old config.
        wait_until(lambda: not old & self.workers() and applied(), 15,
                   "nginx to apply the reloaded config")


@contextmanager
def run_nginx(root: Path, servers: str, ports: list[int]) -> Iterator[Nginx]:
    """Start nginx with `servers` (server blocks) in `root`, wait for `ports`, stop it after."""
    assert NGINX, "nginx is needed"
    # As root, nginx workers would run as nobody, who cannot read the test's private tmp dir.
    write_config(root, AUDIT_HTTP + servers, as_root=os.geteuid() == 0)
    server = Nginx(root, ports)
    server._argv = nginx_argv(root)
    server.test_config()
    process = subprocess.Popen([*server._argv, "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server.process = process
    try:
        wait_until(lambda: all(map(listening, ports)) or process.poll() is not None, 15,
                   f"nginx to listen on 127.0.0.1 ports {ports}")
        assert process.poll() is None, (root / "nginx-error.log").read_text()
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Recorder:
    """What a RecordingServer received."""

    methods: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def recording_server(respond: Callable[[BaseHTTPRequestHandler], None],
                     address: str = "127.0.0.1") -> Iterator[tuple[int, Recorder]]:
    """A loopback HTTP server (on `address`, one of 127.0.0.0/8) that records every
    request's method and lets `respond` answer GET and HEAD; yields (port, recorder)."""
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def parse_request(self) -> bool:
            parsed = super().parse_request()
            with recorder.lock:
                recorder.methods.append(self.command)
            return parsed

        def do_GET(self) -> None:
            respond(self)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    with ThreadingHTTPServer((address, 0), Handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        try:
            yield httpd.server_address[1], recorder
        finally:
            httpd.shutdown()
            thread.join(timeout=10)


@contextmanager
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers until the test ends."""
    done = threading.Event()
    held: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.05)

        def accept() -> None:
            while not done.is_set():
                try:
                    held.append(listener.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            done.set()
            thread.join(timeout=10)
            for connection in held:
                connection.close()
