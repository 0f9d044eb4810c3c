"""A fail2ban jail with `backend = systemd` in the daemon: journal entries written by a real
journal writer, read by a real journalctl, counted and banned; a restart goes on after the
last entry read, with the counts kept."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from floodwall.config.loader import load_config
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.server.daemon import Daemon
from tests.support import fail2ban_dir, journal
from tests.support.daemons import with_daemon
from tests.support.waiting import until

REASON = journal.skip_reason() or fail2ban_dir.skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

JAIL_LOCAL = """
[DEFAULT]
banaction = nftables-multiport

[sshd]
enabled = true
backend = systemd[journalpath={root}/journal]
maxretry = 3
findtime = 10m
bantime = 1h
"""


def _failures(client: str, count: int, first_pid: int,
              user: str = "oracle") -> list[dict[str, str]]:
    now = time.time()
    return [journal.sshd_entry(f"Invalid user {user} from {client} port {40000 + n}",
                               now - count + n, pid=first_pid + n) for n in range(count)]


def _run(root: Path, body: Callable[[Daemon, RecordingEnforcer], Awaitable[None]]) -> None:
    enforcer = RecordingEnforcer()
    with_daemon(load_config(root / "floodwall.toml"), lambda daemon: body(daemon, enforcer),
                enforcer=enforcer, timeout=90)


def _sshd_reads(daemon: Daemon) -> int:
    return daemon.pipeline.jails["sshd"].filter.engine.stats.lines  # type: ignore[attr-defined]


def test_journal_failures_are_banned_and_a_restart_resumes_after_them(tmp_path: Path) -> None:
    fail2ban_dir.copy_config(tmp_path / "fail2ban", JAIL_LOCAL.format(root=tmp_path))
    fail2ban_dir.floodwall_toml(tmp_path)
    (tmp_path / "journal").mkdir()
    folder = tmp_path / "journal"

    async def first(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        # an address written into the user name is the attacker's text, not a source
        entries = (_failures("192.0.2.7", 3, 100, user="198.51.100.9")
                   + _failures("192.0.2.20", 2, 200))
        await asyncio.to_thread(journal.write_journal, folder / "a.journal", entries)
        await until(lambda: enforcer.elements()["sshd"] == ["192.0.2.7"], "the ban",
                    timeout=20.0)
        await until(lambda: _sshd_reads(daemon) == 5, "all five entries read", timeout=20.0)
        assert enforcer.elements()["sshd"] == ["192.0.2.7"]
        ban = daemon.database.bans_of("192.0.2.7")[0].ban
        assert ban.jail == "sshd" and ban.count == 3
        [sshd] = daemon.status()["jails"]
        assert (sshd["files"], sshd["journal_entries"]) == (0, 5)

    _run(tmp_path, first)

    async def second(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        # the entries of the first run are not read again, but their counts were kept:
        # 192.0.2.20's third failure, the first one of this run, bans it (fail2ban's
        # restart would have forgotten the two before)
        assert enforcer.elements()["sshd"] == ["192.0.2.7"]  # the ban restored
        assert daemon.pipeline.jails["sshd"].windows.count("192.0.2.20") == 2
        await asyncio.to_thread(journal.write_journal, folder / "b.journal",
                                _failures("192.0.2.20", 1, 300))
        await until(lambda: enforcer.elements()["sshd"] == ["192.0.2.20", "192.0.2.7"],
                    "the ban of 192.0.2.20", timeout=20.0)
        assert _sshd_reads(daemon) == 1

    _run(tmp_path, second)
