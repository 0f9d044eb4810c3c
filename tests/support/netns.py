"""Network namespaces for tests: build a small network of namespaces joined by veth pairs,
run commands and servers inside them, open sockets from them, and always clean up.

    with network(2, [Link(0, 1, ("192.0.2.1/24",), ("192.0.2.2/24",))]) as (server, client):
        listener = start_tcp_listener(server, [8080])
        wait_for_tcp(client, "192.0.2.1", 8080)
        assert client.connects("192.0.2.1", 8080)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from tests.support.waiting import wait_until

CLONE_NEWNET = 0x40000000
COMMAND_TIMEOUT = 30.0
"""Seconds any helper command may take before the test fails instead of hanging."""

_libc = ctypes.CDLL(None, use_errno=True)


def unique_name(prefix: str = "fw") -> str:
    """A namespace name no other concurrent test run will pick: prefix + 6 random hex chars."""
    return f"{prefix}{secrets.token_hex(3)}"


def skip_reason(binaries: Sequence[str] = ("ip",)) -> str | None:
    """Why namespace tests cannot run here (not root, a binary missing), or None if they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces (run the tests as root)"
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    missing = [binary for binary in binaries if shutil.which(binary, path=search) is None]
    if missing:
        return f"missing {', '.join(missing)}: install iproute2/nftables (make system-deps)"
    return None


@dataclass
class Namespace:
    """One network namespace; processes started through it are stopped at cleanup."""

    name: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def argv(self, command: Sequence[str]) -> list[str]:
        """`command` prefixed so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def run(self, command: Sequence[str], *, input: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `command` inside the namespace to completion, capturing text output."""
        return subprocess.run(self.argv(command), input=input, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT, check=check)

    def popen(self, command: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
        """Start `command` inside the namespace; it is stopped when the network is torn down."""
        process: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            self.argv(command), text=True, **kwargs)
        self.processes.append(process)
        return process

    def socket(self, family: int = socket.AF_INET,
               kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket living in this namespace, usable from the calling thread."""
        # setns() switches only the calling thread, so a short-lived thread enters the
        # namespace, creates the socket (which stays there) and leaves the test's thread alone.
        result: list[socket.socket | OSError] = []

        def create() -> None:
            try:
                with open(f"/run/netns/{self.name}", "rb") as handle:
                    if _libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                        error = ctypes.get_errno()
                        raise OSError(error, f"setns({self.name}): {os.strerror(error)}")
                result.append(socket.socket(family, kind))
            except OSError as error:  # handed to the caller's thread below
                result.append(error)

        thread = threading.Thread(target=create, name=f"netns-{self.name}")
        thread.start()
        thread.join(COMMAND_TIMEOUT)
        if not result:
            raise AssertionError(f"creating a socket in namespace {self.name} failed or hung")
        if isinstance(result[0], OSError):
            raise result[0]
        return result[0]

    def connects(self, host: str, port: int, *, source: str | None = None,
                 timeout: float = 0.5) -> bool:
        """Whether a TCP connection from this namespace (from `source`) to host:port is
        established within `timeout` seconds."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with self.socket(family) as sock:
            sock.settimeout(timeout)
            if source is not None:
                sock.bind((source, 0))
            try:
                sock.connect((host, port))
            except OSError:
                return False
            return True

    def stop_processes(self) -> None:
        """Stop every process started in the namespace, ours by pid, politely then firmly."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        # Children those processes left behind still live in (and pin) the namespace.
        leftover = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                                  text=True, timeout=COMMAND_TIMEOUT, check=False)
        for pid in leftover.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


@dataclass(frozen=True)
class Link:
    """A veth pair between namespaces number `a` and `b`, with the addresses of each end."""

    a: int
    b: int
    a_addresses: tuple[str, ...] = ()
    b_addresses: tuple[str, ...] = ()


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, text=True,
                   timeout=COMMAND_TIMEOUT)


def _add_address(namespace: Namespace, device: str, address: str) -> None:
    # nodad: an IPv6 address is usable at once instead of after duplicate detection.
    extra = ["nodad"] if ":" in address else []
    _ip("-n", namespace.name, "address", "add", address, "dev", device, *extra)


def _delete(namespace: Namespace) -> None:
    namespace.stop_processes()
    subprocess.run(["ip", "netns", "delete", namespace.name], capture_output=True,
                   timeout=COMMAND_TIMEOUT, check=False)


@contextmanager
def network(count: int, links: Sequence[Link] = ()) -> Iterator[list[Namespace]]:
    """`count` fresh namespaces (loopback up) joined by `links`; link i's ends are device
    `v<i>` in both namespaces. Everything is deleted on exit, whatever happened."""
    with ExitStack() as cleanup:
        namespaces: list[Namespace] = []
        for _ in range(count):
            namespace = Namespace(unique_name())
            _ip("netns", "add", namespace.name)
            cleanup.callback(_delete, namespace)
            namespaces.append(namespace)
            _ip("-n", namespace.name, "link", "set", "lo", "up")
        for index, link in enumerate(links):
            end_a, end_b = namespaces[link.a], namespaces[link.b]
            device = f"v{index}"
            _ip("-n", end_a.name, "link", "add", device, "type", "veth",
                "peer", "name", device, "netns", end_b.name)
            for end, addresses in ((end_a, link.a_addresses), (end_b, link.b_addresses)):
                for address in addresses:
                    _add_address(end, device, address)
                _ip("-n", end.name, "link", "set", device, "up")
        yield namespaces


_LISTENER = """
import socket, sys, selectors
selector = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("::", port))
    server.listen(64)
    selector.register(server, selectors.EVENT_READ)
while True:
    for key, _ in selector.select():
        connection, _ = key.fileobj.accept()
        connection.close()
"""


def start_tcp_listener(namespace: Namespace, ports: Sequence[int]) -> subprocess.Popen[str]:
    """A process in `namespace` accepting (and closing) TCP connections on every address,
    IPv4 and IPv6, on each of `ports`."""
    return namespace.popen([sys.executable, "-c", _LISTENER, *map(str, ports)])


def wait_for_tcp(namespace: Namespace, host: str, port: int, timeout: float = 10.0) -> None:
    """Wait until host:port accepts connections from `namespace`."""
    wait_until(lambda: namespace.connects(host, port, timeout=0.2), timeout,
               f"{host}:{port} to accept connections from namespace {namespace.name}")
