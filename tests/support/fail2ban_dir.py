"""A copy of Debian's /etc/fail2ban with a jail.local and overrides, for the tests' own use."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

from tests.support import configs
from tests.support.lines import syslog_line

SYSTEM_DIR = Path("/etc/fail2ban")


def skip_reason() -> str | None:
    """Why fail2ban-based tests cannot run here (None when they can)."""
    if not (SYSTEM_DIR / "jail.conf").exists():
        return "Debian's fail2ban package is not installed (no /etc/fail2ban/jail.conf)"
    if shutil.which("fail2ban-client") is None:
        return "fail2ban-client is not installed (apt-get install fail2ban)"
    return None


def copy_config(target: Path, jail_local: str, extra: dict[str, str] | None = None) -> Path:
    """Copy /etc/fail2ban to `target`, write jail.local and further files (relative paths)."""
    shutil.copytree(SYSTEM_DIR, target, symlinks=True)
    (target / "jail.local").write_text(jail_local)
    for name, text in (extra or {}).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target


SLOW_FILTER = r"""[Definition]
failregex = slow\[\d+\]: bad login from <HOST>(?: (\w+\s?)+!)?$
"""
"""filter.d/slow.conf: fine on honest lines; on a long run of letters without '!' (as an
attacker may write) its failregex tries 2^n ways to fail."""

SLOW_JAIL = """
[slow]
enabled = true
filter = slow
logpath = {root}/app.log
maxretry = 2
"""
"""jail.local of a jail reading {root}/app.log with SLOW_FILTER."""


def slow_line(address: str, when: float, evil: bool = False) -> str:
    """A line of the slow jail's log at local time `when`; evil: one its failregex takes
    hours to give up on."""
    return syslog_line("slow", f"bad login from {address}{' ' + 'a' * 48 if evil else ''}",
                       pid=int(when) % 100_000, host="host", when=when)


def floodwall_toml(root: Path) -> Path:
    """A dry-run floodwall.toml under `root` whose jails are those of `root`/fail2ban."""
    return configs.floodwall_toml(root, fail2ban={"config_dir": root / "fail2ban"})


def client_dump(directory: Path) -> list[list[object]]:
    """The command stream `fail2ban-client -c DIR -d` prints for the directory."""
    result = subprocess.run(["fail2ban-client", "-c", str(directory), "-d"], capture_output=True,
                            text=True, timeout=60, check=True)
    return [ast.literal_eval(line) for line in result.stdout.splitlines()
            if line.startswith("[")]
