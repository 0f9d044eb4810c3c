"""A private redis-server for tests: its own temporary directory, a unix socket (reachable
from every network namespace) and optionally a loopback TCP port; never the system service.

    with RedisServer.started(password="s3cret") as server:
        client = redis.Redis.from_url(server.url, password="s3cret")
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server")
SKIP_REASON = None if REDIS_SERVER else (
    "redis-server is not installed: install Debian's redis-server (make system-deps)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process that can be stopped and started again on the same socket."""

    def __init__(self, directory: Path, *, password: str | None = None, tcp: bool = False) -> None:
        self.directory = directory
        self.password = password
        self.socket = directory / "redis.sock"
        self.port = _free_port() if tcp else 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """unix:// URL of the socket."""
        return f"unix://{self.socket}"

    @property
    def tcp_url(self) -> str:
        """redis:// URL of the loopback port (tcp=True only)."""
        assert self.port, "started without tcp=True"
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A plain synchronous client with the right password, for test assertions."""
        return redis.Redis(unix_socket_path=str(self.socket), password=self.password,
                           decode_responses=True, socket_timeout=5)

    def start(self) -> None:
        """Start (or start again) and wait until it answers PING."""
        assert REDIS_SERVER is not None
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                   "--unixsocket", str(self.socket), "--unixsocketperm", "777",
                   "--dir", str(self.directory), "--save", "", "--appendonly", "no",
                   "--daemonize", "no", "--logfile", str(self.directory / "redis.log")]
        if self.password is not None:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log")
                raise AssertionError("redis-server did not start: "
                                     + (log.read_text()[-1000:] if log.exists() else ""))
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (its data is gone: no persistence, like a crash of a cache)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    @classmethod
    @contextmanager
    def started(cls, *, password: str | None = None, tcp: bool = False) -> Iterator[RedisServer]:
        """A running server in a fresh short temporary directory, removed afterwards."""
        # Unix socket paths are limited to ~100 bytes: keep the directory name short.
        directory = Path(tempfile.mkdtemp(prefix="fwredis"))
        server = cls(directory, password=password, tcp=tcp)
        try:
            server.start()
            yield server
        finally:
            server.stop()
            shutil.rmtree(directory, ignore_errors=True)
