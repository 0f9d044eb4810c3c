"""Vhost names, schemes and ports read from nginx and Apache configuration directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.audit.vhosts import Vhost, find_vhosts
from floodwall.errors import ConfigError

NGINX_SITE = """
# server { server_name commented.example; }
upstream app { server 127.0.0.1:9000; }   # an upstream's server is not a vhost
server {
    listen 80;
    listen [::]:80;
    server_name shop.example www.shop.example "quoted.example";
    location / { add_header X-Test "a;b{c}" always; }
}
server {
    listen 443 ssl http2;
    listen 127.0.0.1:8443 ssl;
    server_name  shop.example
                 .wild.example *.star.example ~^(?<sub>.+)\\.re\\.example$ _;
}
server {
    server_name default-port.example;
}
"""

NGINX_STREAM = """
stream { server { listen 5353; server_name stream.example; } }
"""

APACHE_SITE = """
<VirtualHost *:80>
    ServerName blog.example
    ServerAlias www.blog.example *.blog.example
    # ServerAlias commented.example
</VirtualHost>
<VirtualHost 192.0.2.1:8443>
    ServerName https://secure.example:8443
    SSLEngine on
</VirtualHost>
<VirtualHost *:443>
    ServerName \\
        tls.example
</VirtualHost>
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_nginx_server_blocks_give_each_name_on_each_listen(tmp_path: Path) -> None:
    root = write(tmp_path, {"sites-enabled/shop": NGINX_SITE, "conf.d/stream.conf": NGINX_STREAM})
    urls = [vhost.url for vhost in find_vhosts(root)]
    assert urls == [
        "http://shop.example/", "http://www.shop.example/", "http://quoted.example/",
        "https://shop.example/", "https://shop.example:8443/", "https://wild.example/",
        "https://wild.example:8443/", "http://default-port.example/",
    ]


def test_vhosts_remember_file_and_line(tmp_path: Path) -> None:
    root = write(tmp_path, {"sites-enabled/shop": NGINX_SITE})
    first = find_vhosts(root)[0]
    assert first == Vhost("shop.example", "http", 80, str(root / "sites-enabled/shop"), 7)


def test_disabled_sites_are_skipped_when_an_enabled_directory_exists(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "sites-available/old": "server { server_name old.example; }",
        "sites-available/shop": "server { server_name shop.example; }",
        "sites-enabled/shop": "server { server_name shop.example; }",
    })
    assert [vhost.name for vhost in find_vhosts(root)] == ["shop.example"]


def test_apache_virtual_hosts(tmp_path: Path) -> None:
    root = write(tmp_path, {"sites-enabled/blog.conf": APACHE_SITE})
    assert [vhost.url for vhost in find_vhosts(root)] == [
        "http://blog.example/", "http://www.blog.example/", "https://secure.example:8443/",
        "https://tls.example/",
    ]


def test_a_missing_directory_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope: not a directory"):
        find_vhosts(tmp_path / "nope")
