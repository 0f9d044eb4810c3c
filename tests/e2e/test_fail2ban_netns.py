"""End to end: a jail read from a fail2ban configuration (banaction = nftables-multiport)
bans an attacker that fails nginx's basic auth, on the jail's ports only.

Two namespaces the test creates: `web` (nginx, a listener on 8080, floodwall) and `attacker`.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import fail2ban_dir
from tests.support.configs import floodwall_toml
from tests.support.netns import (
    Link,
    Namespace,
    network,
    skip_reason,
    start_tcp_listener,
    wait_for_tcp,
)
from tests.support.nginx import start_nginx
from tests.support.waiting import wait_until

WEB, ATTACKER = "192.0.2.1", "192.0.2.66"
OTHER_PORT = 8080

REASON = skip_reason(("ip", "nft", "nginx", "curl")) or fail2ban_dir.skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

NGINX_HTTP = """
    server {
        listen 80;
        server_name site1.example;
        location / {
            auth_basic "private";
            auth_basic_user_file {root}/htpasswd;
            root {root}/www;
        }
    }
"""

JAIL_LOCAL = """
[DEFAULT]
banaction = nftables-multiport

[sshd]
enabled = false

[nginx-http-auth]
enabled = true
logpath = {root}/nginx-error.log
maxretry = 3
findtime = 1m
bantime = 1h
"""

@pytest.fixture()
def site(tmp_path: Path) -> Iterator[tuple[Namespace, Namespace, Path]]:
    root = tmp_path
    (root / "tmp").mkdir()
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("ok\n")
    (root / "htpasswd").write_text("admin:{PLAIN}right\n")
    floodwall_toml(root, floodwall={"backend": "nftables", "table": "fwf2b",
                                    "new_files_from": None}, recon={"enabled": False})
    fail2ban_dir.copy_config(root / "fail2ban", JAIL_LOCAL.format(root=root))
    with network(2, [Link(0, 1, (f"{WEB}/24",), (f"{ATTACKER}/24",))]) as (web, attacker):
        start_nginx(web, root, NGINX_HTTP, as_root=True)
        start_tcp_listener(web, [OTHER_PORT])
        wait_for_tcp(attacker, WEB, 80, 15)
        wait_for_tcp(attacker, WEB, OTHER_PORT, 15)
        log = root / "floodwall.log"
        with open(log, "w") as output:
            daemon = web.popen([sys.executable, "-m", "floodwall", "run", "--config",
                                str(root / "floodwall.toml"), "--fail2ban-config",
                                str(root / "fail2ban")], stdout=output, stderr=output)
        wait_until(lambda: "floodwall running" in log.read_text(), 20,
                   "floodwall to start (see floodwall.log)")
        try:
            yield web, attacker, root
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=15)
            web.run(["nft", "delete", "table", "inet", "fwf2b"], check=False)


def _curl(namespace: Namespace, password: str) -> str:
    result = namespace.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            "--max-time", "2", "-u", f"admin:{password}", f"http://{WEB}/"],
                           check=False)
    return result.stdout


def test_nginx_http_auth_jail_from_fail2ban_config_bans_on_http_ports_only(
        site: tuple[Namespace, Namespace, Path]) -> None:
    web, attacker, root = site
    assert _curl(attacker, "right") == "200"
    for attempt in range(2):
        assert _curl(attacker, f"wrong{attempt}") == "401"
    assert attacker.connects(WEB, 80), "two failures are below maxretry = 3"
    assert _curl(attacker, "wrong2") == "401"
    wait_until(lambda: not attacker.connects(WEB, 80, timeout=0.3), 10,
               "the attacker to be dropped on port 80")
    # nftables-multiport with port = http,https: other ports stay open, as in fail2ban.
    assert attacker.connects(WEB, OTHER_PORT)
    listing = web.run(["nft", "list", "table", "inet", "fwf2b"]).stdout
    assert ATTACKER in listing and "dport { 80, 443 }" in listing
    log = (root / "floodwall.log").read_text()
    assert f"ban {ATTACKER} jail=nginx-http-auth" in log
