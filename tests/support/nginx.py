"""A real nginx for tests: its own config, pid, logs and temp files under one directory,
run by the test (on loopback or inside a test namespace), never the system service."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.netns import Namespace

NGINX = shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
"""Debian's nginx, or None."""

_CONFIG = """
{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
{http}
}}
"""


def write_config(root: Path, http: str, *, as_root: bool = False) -> Path:
    """Write `root`/nginx.conf around the given `http` block lines (log formats, server
    blocks...; every `{root}` in them becomes `root`): one worker (running as root with
    `as_root`), its pid, error log (`root`/nginx-error.log) and temp files under `root`."""
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    config = root / "nginx.conf"
    config.write_text(_CONFIG.format(root=root, http=http.replace("{root}", str(root)),
                                     user="user root;\n" if as_root else ""))
    return config


def nginx_argv(root: Path) -> list[str]:
    """nginx run on `root`/nginx.conf with `root` as its prefix (add `-t`, `-s reload`, or
    `-g "daemon off;"`)."""
    assert NGINX is not None, "nginx is not installed (make system-deps)"
    return [NGINX, "-c", str(root / "nginx.conf"), "-p", str(root),
            "-e", str(root / "nginx-error.log")]


def start_nginx(namespace: Namespace, root: Path, http: str, *,
                as_root: bool = False) -> subprocess.Popen[str]:
    """Write the config (as write_config, access logs off unless a block turns them on) and
    start nginx in the foreground inside `namespace`; it is stopped with the namespace."""
    write_config(root, "    access_log off;\n" + http, as_root=as_root)
    return namespace.popen([*nginx_argv(root), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
