"""A real nginx on 127.0.0.1 serving the vhosts the audit tests grade."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.audit.servers import OPENSSL, Nginx, free_ports, run_nginx, self_signed
from tests.support.nginx import NGINX

PAGE = """<!doctype html>
<html><head><title>shop</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js"></script>
<script>document.documentElement.dataset.ready = "1";</script>
</head><body>
<img src="http://127.0.0.1:{other}/logo.png" alt="logo">
<form action="/login" method="post"></form>
</body></html>
"""

WEAK_HEADERS = """
add_header Content-Security-Policy "default-src 'self'; script-src 'self' 'unsafe-inline'";
add_header X-Frame-Options SAMEORIGIN;
add_header X-Content-Type-Options nosniff;
add_header Referrer-Policy no-referrer;
"""

HARDENED_HEADERS = """
        server_tokens off;
        add_header Strict-Transport-Security "max-age=63072000; includeSubDomains; preload" always;
        add_header Content-Security-Policy "default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'" always;
        add_header X-Frame-Options DENY always;
        add_header X-Content-Type-Options nosniff always;
        add_header Referrer-Policy strict-origin-when-cross-origin always;
        add_header Permissions-Policy "camera=(), microphone=(), geolocation=()" always;
        add_header Cross-Origin-Opener-Policy same-origin always;
"""

SERVERS = """
    server {{  # no security headers at all, a cookie without flags
        listen 127.0.0.1:{plain};
        server_name a.test;
        root {root}/site;
        add_header Set-Cookie "session=abc123; Path=/";
    }}
    server {{  # weak CSP, headers only on 2xx/3xx (no 'always')
        listen 127.0.0.1:{weak};
        server_name b.test;
        root {root}/site;
        include {root}/weak-headers.conf;
    }}
    server {{  # fully hardened, over HTTP and HTTPS
        listen 127.0.0.1:{hardened};
        listen 127.0.0.1:{hardened_tls} ssl;
        server_name c.test;
        root {root}/site;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
{hardened_headers}
    }}
    server {{  # redirects to the hardened HTTPS vhost
        listen 127.0.0.1:{redirect};
        server_name d.test;
        return 301 https://127.0.0.1:{hardened_tls}$request_uri;
    }}
    server {{  # HTTPS with a short HSTS
        listen 127.0.0.1:{weak_tls} ssl;
        server_name e.test;
        root {root}/site;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        add_header Strict-Transport-Security "max-age=300" always;
    }}
"""


@dataclass(frozen=True)
class Sites:
    """The running nginx and the URL of each of its vhosts."""

    nginx: Nginx
    plain: str
    weak: str
    hardened: str
    hardened_tls: str
    redirect: str
    weak_tls: str
    cert: Path
    weak_headers: Path


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    """nginx with six vhosts on their own 127.0.0.1 ports (see SERVERS)."""
    if NGINX is None or OPENSSL is None:
        pytest.skip("LOUD SKIP: nginx and openssl are needed (apt-get install nginx openssl)")
    root = tmp_path_factory.mktemp("nginx")
    names = ("plain", "weak", "hardened", "hardened_tls", "redirect", "weak_tls")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text(PAGE.format(other=ports["plain"]))
    for asset in ("style.css", "app.js", "logo.png"):
        (root / "site" / asset).write_text("/* asset */\n")
    cert, _ = self_signed(root)
    weak_headers = root / "weak-headers.conf"
    weak_headers.write_text(WEAK_HEADERS)
    servers = SERVERS.format(root=root, hardened_headers=HARDENED_HEADERS, **ports)
    with run_nginx(root, servers, list(ports.values())) as nginx:
        scheme = {"hardened_tls": "https", "weak_tls": "https"}
        urls = {name: f"{scheme.get(name, 'http')}://127.0.0.1:{port}/"
                for name, port in ports.items()}
        yield Sites(nginx=nginx, cert=cert, weak_headers=weak_headers, **urls)
