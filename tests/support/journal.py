"""Real systemd journal files for tests: entries written by systemd-journal-remote, read back
by journalctl (both from Debian's packages; no journald needed)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

REMOTE = next((path for path in ("/usr/lib/systemd/systemd-journal-remote",
                                 "/lib/systemd/systemd-journal-remote")
               if Path(path).exists()), None)
BOOT_ID = uuid.UUID(int=0x0F100D0A11).hex


def skip_reason() -> str | None:
    """Why journal tests cannot run here (None when they can)."""
    if shutil.which("journalctl") is None:
        return "journalctl is not installed (apt-get install systemd)"
    if REMOTE is None:
        return "systemd-journal-remote is not installed (apt-get install systemd-journal-remote)"
    return None


def sshd_entry(message: str, when: float, pid: int = 4242,
               host: str = "web1") -> dict[str, str]:
    """An sshd journal entry as journald records it."""
    return {"__REALTIME_TIMESTAMP": str(int(when * 1_000_000)),
            "__MONOTONIC_TIMESTAMP": str(int(when * 1000) % 10**9),
            "_BOOT_ID": BOOT_ID, "_HOSTNAME": host, "SYSLOG_IDENTIFIER": "sshd",
            "_PID": str(pid), "_COMM": "sshd", "_SYSTEMD_UNIT": "sshd.service",
            "MESSAGE": message}


def write_journal(path: Path, entries: Sequence[Mapping[str, str]]) -> Path:
    """Write `entries` (field -> text) as the journal file `path` (name ending .journal)."""
    export = b"".join(
        b"".join(f"{field}={value}\n".encode() for field, value in entry.items()) + b"\n"
        for entry in entries)
    assert REMOTE is not None, skip_reason()
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([REMOTE, f"--output={path}", "-"], input=export, capture_output=True,
                   timeout=60, check=True)
    return path
