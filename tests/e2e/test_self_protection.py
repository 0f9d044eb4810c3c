"""floodwall never bans its own addresses nor the operator's live ssh session (namespaces)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.configs import floodwall_toml, scanner_jail
from tests.support.lines import access_line
from tests.support.netns import Link, Namespace, network, skip_reason
from tests.support.waiting import wait_until

REASON = skip_reason(("ip", "nft", "ss"))
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

WEB, ADMIN, ATTACKER = "192.0.2.1", "192.0.2.10", "192.0.2.66"
# A stand-in sshd: accepts on port 22 and keeps every connection open.
HOLDER = """
import socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 22))
server.listen(8)
held = []
while True:
    held.append(server.accept()[0])
"""


def _floodwall(web: Namespace, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return web.run([sys.executable, "-m", "floodwall", *args, "--config",
                    str(root / "floodwall.toml")], check=False)


def test_own_address_and_live_ssh_session_are_never_banned(tmp_path: Path) -> None:
    access_log = tmp_path / "access.log"
    floodwall_toml(tmp_path, {"web": scanner_jail(access_log, maxretry=3)},
                   floodwall={"backend": None})  # the default: nftables
    access_log.touch()
    links = [Link(0, 1, (f"{WEB}/24",), (f"{ADMIN}/24", f"{ATTACKER}/24"))]
    with network(2, links) as (web, outside):
        web.popen([sys.executable, "-c", HOLDER])
        wait_until(lambda: outside.connects(WEB, 22), 10, "the ssh stand-in to listen")
        session = outside.socket()
        session.bind((ADMIN, 0))
        session.connect((WEB, 22))  # the operator's ssh session, open during the whole test
        log = tmp_path / "daemon.log"
        with open(log, "w") as output:
            daemon = web.popen([sys.executable, "-m", "floodwall", "run", "--config",
                                str(tmp_path / "floodwall.toml")], stdout=output, stderr=output)
        wait_until(lambda: "floodwall running" in log.read_text(), 20, "the daemon to start")

        with open(access_log, "a") as handle:
            handle.write("".join(access_line(client, f"/nope{n}", agent="x")
                                 for client in (ADMIN, ATTACKER, WEB) for n in range(3)))
        wait_until(lambda: f"ban {ATTACKER} " in log.read_text(), 10, "the attacker's ban")
        wait_until(lambda: f"not banning {ADMIN}" in log.read_text(), 10, "the refusal")
        text = log.read_text()
        assert f"not banning {ADMIN} (jail web would have): it is the peer of a live ssh" in text
        assert f"not banning {WEB} (jail web would have): it is this host's own address" in text

        refused = _floodwall(web, tmp_path, "ban", ADMIN)
        assert refused.returncode == 1
        assert "it is the peer of a live ssh session" in refused.stderr
        assert "--force" in refused.stderr
        assert "this host's own address" in _floodwall(web, tmp_path, "ban", WEB).stderr
        bans = _floodwall(web, tmp_path, "bans").stdout
        assert ATTACKER in bans and ADMIN not in bans and WEB not in bans

        forced = _floodwall(web, tmp_path, "ban", ADMIN, "--force", "--bantime", "5m")
        assert forced.returncode == 0, forced.stderr
        assert ADMIN in _floodwall(web, tmp_path, "bans").stdout
        session.close()
        daemon.terminate()
        assert daemon.wait(timeout=15) == 0
