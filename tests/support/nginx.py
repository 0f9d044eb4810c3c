"""A real nginx for tests: its own config, pid, logs and temp files under one directory,
started inside a test namespace (never the system service)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.netns import Namespace

_CONFIG = """
{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
{http}
}}
"""


def start_nginx(namespace: Namespace, root: Path, http: str, *,
                as_root: bool = False) -> subprocess.Popen[str]:
    """Write `root`/nginx.conf around the given `http` block lines (server blocks etc.; every
    `{root}` in them becomes `root`) and start nginx in the foreground inside `namespace`;
    it is stopped with the namespace."""
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    config = root / "nginx.conf"
    config.write_text(_CONFIG.format(root=root, http=http.replace("{root}", str(root)),
                                     user="user root;\n" if as_root else ""))
    binary = shutil.which("nginx", path=os.pathsep.join(["/usr/sbin", os.environ["PATH"]]))
    assert binary is not None, "nginx is not installed (make system-deps)"
    return namespace.popen([binary, "-c", str(config), "-p", str(root), "-g", "daemon off;"],
                           stderr=subprocess.DEVNULL)
