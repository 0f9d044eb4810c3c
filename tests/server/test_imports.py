"""Imported bans reach the running daemon (enforced at once) or, with no daemon, the ledger
database (enforced at the next start): real control socket, real SQLite, recording firewall."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from floodwall.bans.transfer import Entry
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.model import Ban
from floodwall.server.daemon import Daemon
from floodwall.server.imports import daemon_running, deliver
from floodwall.settings.values import Config
from floodwall.storage.database import Database
from tests.support.configs import load
from tests.support.daemons import with_daemon


def _config(root: Path) -> Config:
    """A `web` jail on root's access.log (http ports); 192.0.2.250 is allowlisted."""
    (root / "access.log").touch()
    return load(root, {"web": {"logpath": [root / "access.log"], "ports": ["http"]}},
                defaults={"ignoreip": ["192.0.2.250"]})


def _entries(now: float) -> list[Entry]:
    return [
        Entry(Ban("198.51.100.1", "web", now - 60, now + 3600, 3, "fail2ban", "current")),
        Entry(Ban("198.51.100.2", "sshd", now - 60, None, 6, "fail2ban", "permanent")),
        Entry(Ban("198.51.100.3", "sshd", now - 9000, now - 5400, 6, "fail2ban", "past")),
        Entry(Ban("192.0.2.250", "web", now - 60, now + 3600, 1, "fail2ban", "ours")),
    ]


def test_import_through_the_running_daemon_is_enforced_at_once(tmp_path: Path) -> None:
    config = _config(tmp_path)
    enforcer = RecordingEnforcer()
    now = time.time()

    async def body(daemon: Daemon) -> None:
        assert await asyncio.to_thread(daemon_running, config.socket)
        intake, by_daemon = await asyncio.to_thread(deliver, config, _entries(now), now)
        assert by_daemon
        assert (intake.enforced, intake.history, intake.known) == (2, 1, 0)
        assert intake.allowlisted == ("192.0.2.250",)
        # fail2ban's sshd is no jail here: it gets a set of its own (all ports) at once.
        assert "sshd" in {jail.name for jail in enforcer.setups[-1]}
        assert enforcer.elements() == {"web": ["198.51.100.1"], "manual": [],
                                       "sshd": ["198.51.100.2"]}
        again, _ = await asyncio.to_thread(deliver, config, _entries(now), now)
        assert (again.enforced, again.history, again.known) == (0, 0, 3)

    with_daemon(config, body, enforcer=enforcer)
    database = Database(config.database)
    try:
        assert [(s.ban.key, s.ended) for s in database.bans_since(0.0)
                if s.ended is not None] == [("198.51.100.3", now - 5400)]
    finally:
        database.close()


def test_without_a_daemon_the_ledger_gets_them_and_the_next_start_enforces_them(
        tmp_path: Path) -> None:
    config = _config(tmp_path)
    now = time.time()
    assert not daemon_running(config.socket)

    intake, by_daemon = deliver(config, _entries(now), now)

    assert not by_daemon
    assert (intake.enforced, intake.history, intake.allowlisted) == (2, 1, ("192.0.2.250",))
    enforcer = RecordingEnforcer()

    async def body(daemon: Daemon) -> None:
        active = sorted(b.key for b in daemon.bans.ledger.active())
        assert active == ["198.51.100.1", "198.51.100.2"]
        assert enforcer.elements()["sshd"] == ["198.51.100.2"]

    with_daemon(config, body, enforcer=enforcer)


def test_large_imports_are_sent_in_pieces_the_socket_accepts(tmp_path: Path) -> None:
    config = _config(tmp_path)
    enforcer = RecordingEnforcer()
    now = time.time()
    entries = [Entry(Ban(f"10.{n // 256}.{n % 256}.1", "web", now, now + 600, 1, "import",
                         "from a long blocklist " + "x" * 100)) for n in range(3000)]

    async def body(daemon: Daemon) -> None:
        intake, _ = await asyncio.to_thread(deliver, config, entries, now)
        assert intake.enforced == 3000
        assert len(enforcer.elements()["web"]) == 3000

    with_daemon(config, body, enforcer=enforcer)


def test_without_a_daemon_this_hosts_own_address_is_refused_as_the_daemon_refuses_it(
        tmp_path: Path) -> None:
    config = _config(tmp_path)
    now = time.time()
    own = Entry(Ban("127.0.0.1", "web", now - 60, now + 3600, 1, "fail2ban", "loopback"))
    intake, by_daemon = deliver(config, [own, *_entries(now)[:1]], now)
    assert not by_daemon
    assert intake.enforced == 1 and intake.allowlisted == ("127.0.0.1",)
    database = Database(config.database)
    try:
        assert [stored.ban.key for stored in database.open_bans()] == ["198.51.100.1"]
    finally:
        database.close()
