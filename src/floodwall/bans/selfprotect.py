"""Addresses floodwall must never ban: this host's own, and the peers of live ssh sessions.

Both are read from the kernel through fixed commands (`ip -j address`, `ss`), never from
log text.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess

from floodwall.addresses import normalise_address

log = logging.getLogger("floodwall.bans")
_TIMEOUT = 5.0
_SSHD_PORT = re.compile(r"^\s*Port\s+(\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def _run(argv: list[str]) -> str | None:
    path = shutil.which(argv[0], path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin",
                                                      "/sbin"]))
    if path is None:
        return None
    try:
        result = subprocess.run([path, *argv[1:]], capture_output=True, text=True,
                                timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as problem:
        log.warning("self-protection: %s failed: %s", argv[0], problem)
        return None
    return result.stdout if result.returncode == 0 else None


def local_addresses() -> dict[str, str]:
    """Every address of this host's interfaces -> 'it is this host's own address'."""
    output = _run(["ip", "-j", "address", "show"])
    found: dict[str, str] = {}
    if output is None:
        return found
    try:
        interfaces = json.loads(output)
    except ValueError:
        return found
    for interface in interfaces:
        for info in interface.get("addr_info", []):
            key = normalise_address(str(info.get("local", "")))
            if key is not None:
                found[key] = f"it is this host's own address (interface {interface.get('ifname')})"
    return found


def sshd_ports(config_path: str = "/etc/ssh/sshd_config") -> list[int]:
    """The ports sshd listens on, from its configuration (22 when it says nothing)."""
    try:
        with open(config_path, encoding="utf-8", errors="replace") as handle:
            ports = [int(p) for p in _SSHD_PORT.findall(handle.read())]
    except OSError:
        ports = []
    return ports or [22]


def ssh_session_peers(ports: list[int] | None = None) -> dict[str, str]:
    """Remote addresses of established connections to sshd -> 'it is a live ssh session'."""
    found: dict[str, str] = {}
    for port in ports or sshd_ports():
        output = _run(["ss", "-Htn", "state", "established", "sport", "=", f":{port}"])
        for line in (output or "").splitlines():
            fields = line.split()
            if len(fields) < 4:
                continue
            peer = fields[3].rsplit(":", 1)[0].strip("[]")
            key = normalise_address(peer.split("%")[0])
            if key is not None:
                found[key] = f"it is the peer of a live ssh session (port {port})"
    return found


def requester_session(ssh_connection: str | None) -> dict[str, str]:
    """The client of an operator's ssh session from its SSH_CONNECTION text, if any."""
    fields = (ssh_connection or "").split()
    if not fields:
        return {}
    key = normalise_address(fields[0])
    return {key: "it is the address of your current ssh session"} if key else {}
