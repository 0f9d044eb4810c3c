"""Tests of the daemon: its ban path fed lines directly on a manual clock (counting across
vhosts, evidence, batches, a jail that breaks on a line), and the wiring that needs a started
daemon (the control socket, reloads, a restart that re-applies bans and resumes its real log
files through inotify); SQLite is real, the firewall is the recording twin (nftables itself
is tested in tests/e2e)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from floodwall.clock import ManualClock
from floodwall.config.loader import load_config
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.errors import ControlError
from floodwall.matching.entries import Entry
from floodwall.model import Ban, Failure
from floodwall.server.control import request
from floodwall.server.daemon import Daemon
from floodwall.settings.values import Config
from floodwall.storage.database import Database
from tests.support.configs import Table, floodwall_toml, scanner_jail
from tests.support.daemons import fed_daemon, with_daemon
from tests.support.lines import T0, access_line, source_lines
from tests.support.waiting import until

SITES = ("a.example", "b.example")


def _config_file(root: Path, maxretry: int = 4, **sections: Table) -> Path:
    """floodwall.toml of a `web` jail over every vhost's access log (maxretry failing GETs
    in 5 minutes ban for an hour); 192.0.2.250 is allowlisted."""
    return floodwall_toml(root, {"web": scanner_jail(root / "www" / "*" / "logs" / "access.log",
                                                     maxretry=maxretry)},
                          defaults={"ignoreip": ["192.0.2.250"]}, **sections)


def _config(root: Path, maxretry: int = 4) -> Config:
    return load_config(_config_file(root, maxretry))


def _log(root: Path, site: str) -> Path:
    return root / "www" / site / "logs" / "access.log"


def _scan(client: str, seconds: float = 0.0, path: str = "/wp-admin/") -> str:
    """A scanner's failing GET, `seconds` after T0 (where the manual clock starts)."""
    return access_line(client, path, agent="scanner", when=T0 + seconds)


# --- the ban path, fed directly ---------------------------------------------------------------

def test_failures_across_vhosts_are_counted_together_and_banned(tmp_path: Path) -> None:
    with fed_daemon(_config(tmp_path)) as fed:
        fed.feed(_log(tmp_path, "a.example"), _scan("203.0.113.7", 1) * 2)
        fed.feed(_log(tmp_path, "b.example"), _scan("203.0.113.7", 2))
        assert fed.daemon.status()["lines_read"] == 3
        assert fed.banned("web") == []
        fed.feed(_log(tmp_path, "b.example"), _scan("203.0.113.7", 3), first_line=2)
        assert fed.banned("web") == ["203.0.113.7"]
        stored = fed.daemon.database.bans_of("203.0.113.7")[0]
        evidence = fed.daemon.database.evidence(stored.id)
        # Counted over both vhosts; the evidence holds the failures from half the threshold on.
        assert [Path(e.path).parts[-3] for e in evidence] == [
            "a.example", "b.example", "b.example"]
        assert "4 failures" in stored.ban.reason and stored.ban.count == 4


def test_a_source_back_after_a_pause_longer_than_findtime_is_banned_and_costs_no_one_a_ban(
        tmp_path: Path) -> None:
    a, b = _log(tmp_path, "a.example"), _log(tmp_path, "b.example")
    with fed_daemon(_config(tmp_path)) as fed:
        fed.feed(a, _scan("203.0.113.20", 1) + _scan("203.0.113.20", 2))
        fed.clock.set(T0 + 600)  # 10 minutes later: findtime (5 minutes) has passed
        fed.feed(a, _scan("203.0.113.20", 600), first_line=3)
        # One batch: the returning source again, and another source's 4 failures.
        fed.feed(b, _scan("203.0.113.20", 601) + "".join(
            _scan("203.0.113.21", 600 + second) for second in range(4)))
        assert fed.banned("web") == ["203.0.113.21"]
        fed.feed(a, _scan("203.0.113.20", 602) + _scan("203.0.113.20", 603), first_line=4)
        # 4 failures within 5 minutes: 10:00, 10:01, 10:02, 10:03.
        assert fed.banned("web") == ["203.0.113.20", "203.0.113.21"]


def test_a_line_that_breaks_a_jail_is_skipped_and_the_batch_still_bans(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with fed_daemon(_config(tmp_path)) as fed:
        jail = fed.daemon.pipeline.jails["web"]
        real = jail.filter.failures

        def breaks_on_one_line(entry: Entry) -> list[Failure]:
            if "203.0.113.66" in entry.line.text:
                raise RuntimeError("a bug in a filter")
            return real(entry)

        jail.filter.failures = breaks_on_one_line  # type: ignore[method-assign]
        fed.feed(_log(tmp_path, "a.example"), _scan("203.0.113.66") + "".join(
            _scan("203.0.113.22", second) for second in range(1, 5)))
        assert fed.banned("web") == ["203.0.113.22"]
        [record] = [r for r in caplog.records if "failed" in r.getMessage()]
        assert "a.example/logs/access.log line 1 failed; the line is skipped" in record.getMessage()


# --- a started daemon: control socket, reloads, restarts -----------------------------------

def _started(root: Path, body: Callable[[Daemon, RecordingEnforcer], Awaitable[None]], *,
             maxretry: int = 4, clock: ManualClock | None = None) -> None:
    """Run `body` with a started daemon on the `web` configuration (both vhosts' logs exist,
    empty at first) and its recording firewall."""
    for site in SITES:
        _log(root, site).parent.mkdir(parents=True, exist_ok=True)
        _log(root, site).touch()
    enforcer = RecordingEnforcer()
    with_daemon(_config(root, maxretry), lambda daemon: body(daemon, enforcer),
                enforcer=enforcer, clock=clock)


def test_control_socket_ban_unban_status_and_allowlist(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        socket = daemon.config.socket

        def call(command: str, **arguments: object) -> dict[str, Any]:
            return request(socket, command, **arguments)

        answer = await asyncio.to_thread(call, "ban", address="2001:db8::5", bantime="10m")
        assert [b["address"] for b in answer["bans"]] == ["2001:db8::5"]
        assert enforcer.elements()["manual"] == ["2001:db8::5"]
        with pytest.raises(ControlError, match="allowlisted"):
            await asyncio.to_thread(call, "ban", address="192.0.2.250")
        with pytest.raises(ControlError, match="not an IP"):
            await asyncio.to_thread(call, "ban", address="$(reboot)")
        with pytest.raises(ControlError, match="zone id"):
            await asyncio.to_thread(call, "ban", address="fe80::1%eth0")
        status = await asyncio.to_thread(call, "status")
        assert status["active_bans"] == 1 and status["files"] == 2
        removed = await asyncio.to_thread(call, "unban", address="2001:db8::5")
        assert len(removed["removed"]) == 1
        assert enforcer.elements()["manual"] == []
        with pytest.raises(ControlError, match="unknown command"):
            await asyncio.to_thread(call, "format-disk")

    _started(tmp_path, body)


def test_reload_keeps_counts_and_bans(tmp_path: Path) -> None:
    a, b = _log(tmp_path, "a.example"), _log(tmp_path, "b.example")

    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        daemon.process(source_lines(a, _scan("198.51.100.3", 1) * 3))
        await daemon.handle_request({"command": "ban", "address": "198.51.100.200"})
        _config_file(tmp_path, maxretry=5)
        await daemon.reload()
        assert daemon.pipeline.jails["web"].config.maxretry == 5
        assert enforcer.elements()["manual"] == ["198.51.100.200"]  # re-applied after setup
        daemon.process(source_lines(b, _scan("198.51.100.3", 2)))
        assert enforcer.elements()["web"] == []  # 4 of 5
        daemon.process(source_lines(b, _scan("198.51.100.3", 3), first_line=2))
        assert enforcer.elements()["web"] == ["198.51.100.3"]  # banned at 5

    _started(tmp_path, body, maxretry=4, clock=ManualClock(T0))


def test_a_reload_names_what_only_a_restart_applies(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        _config_file(tmp_path, maxretry=6, floodwall={"backend": "nftables"},
                     http={"listen": "127.0.0.1:0"})
        with caplog.at_level("WARNING", logger="floodwall"):
            await daemon.reload()
        assert daemon.pipeline.jails["web"].config.maxretry == 6  # in force now
        [warning] = [r.getMessage() for r in caplog.records if r.getMessage().startswith(
            "reload:")]
        assert "[floodwall] backend, [http] changed" in warning and "next restart" in warning

    _started(tmp_path, body)


def test_a_bad_reload_changes_nothing(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        (tmp_path / "floodwall.toml").write_text("[jails.web]\nmaxretry = 'x'\n")
        await daemon.reload()
        assert daemon.pipeline.jails["web"].config.maxretry == 4

    _started(tmp_path, body)


def test_restart_reapplies_active_bans_and_resumes_logs(tmp_path: Path) -> None:
    # End to end through a real file and inotify, on the real clock: lines stamped now.
    log = _log(tmp_path, "a.example")

    def append(text: str) -> None:
        with open(log, "a") as writer:
            writer.write(text)

    async def first(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        append(access_line("203.0.113.20", "/wp-admin/") * 4)
        await until(lambda: enforcer.elements()["web"] == ["203.0.113.20"], "the ban")
        append(access_line("203.0.113.21", "/wp-admin/") * 2)
        await until(lambda: daemon.lines_read == 6, "6 lines")

    async def second(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        assert enforcer.elements()["web"] == ["203.0.113.20"]
        assert daemon.lines_read == 0  # the catch-up at start re-read nothing
        append(access_line("203.0.113.21", "/wp-admin/") * 2)
        await until(lambda: daemon.lines_read == 2, "2 new lines")

    _started(tmp_path, first)
    _started(tmp_path, second)


def test_a_jails_ban_keeps_the_other_jails_counts_and_a_hand_ban_resets_them_all(
        tmp_path: Path) -> None:
    from floodwall.clock import ManualClock
    from floodwall.config.loader import parse_config
    from floodwall.model import SourceLine
    from tests.support.lines import access_line

    config = parse_config(
        f'[floodwall]\nstate_dir = "{tmp_path}/state"\nsocket = "{tmp_path}/c.sock"\n'
        'backend = "dry-run"\nprotect_ssh_sessions = false\n'
        f'[jails.web]\nlogpath = "{tmp_path}/web.log"\nmethods = ["GET"]\nstatus = [404]\n'
        f'maxretry = 3\n[jails.login]\nlogpath = "{tmp_path}/login.log"\n'
        'methods = ["POST"]\nmaxretry = 3\n', str(tmp_path / "floodwall.toml"))
    clock = ManualClock(1_800_000_000.0)
    daemon = Daemon(config, clock=clock, enforcer=RecordingEnforcer())
    lines = 0

    def fail(client: str, log: str) -> list[str]:
        nonlocal lines
        lines += 1
        method = "GET" if log == "web" else "POST"
        text = access_line(client, "/x", method=method, when=clock.now()).rstrip("\n")
        made = daemon.process([SourceLine(str(tmp_path / f"{log}.log"), lines, text)])
        return [ban.jail for ban in made]

    counts = {name: jail.windows.count for name, jail in daemon.jails.items()}
    try:
        daemon.bans.rebuild_firewall()
        assert fail("203.0.113.1", "login") == fail("203.0.113.1", "login") == []
        assert [fail("203.0.113.1", "web") for _ in range(3)] == [[], [], ["web"]]
        assert counts["login"]("203.0.113.1") == 2  # the web ban left it alone
        assert fail("203.0.113.1", "login") == ["login"]
        for log in ("web", "login", "web", "login"):
            fail("203.0.113.2", log)
        daemon.manual_ban({"address": "203.0.113.2"})
        assert counts["web"]("203.0.113.2") == counts["login"]("203.0.113.2") == 0
    finally:
        daemon.database.close()


def test_a_key_an_older_version_stored_can_still_be_unbanned(tmp_path: Path) -> None:
    config = load_config(_config_file(tmp_path))
    older = Database(config.database)  # as an older floodwall wrote it, unchecked
    older.add_bans([(Ban("fe80::1%eth0", "web", T0, T0 + 3600, 4, "local", "old"), ()),
                    (Ban("198.51.100.4", "web", T0, T0 + 3600, 4, "local", "good"), ())])
    older.close()
    with fed_daemon(config, start=T0 + 10) as fed:
        with pytest.raises(ControlError, match="zone id"):
            fed.daemon.manual_ban({"address": "fe80::1%eth0"})
        removed = fed.daemon.manual_unban({"address": "fe80::1%eth0"})
        assert [ban["address"] for ban in removed] == ["fe80::1%eth0"]
        assert [ban.key for ban in fed.daemon.bans.ledger.active()] == ["198.51.100.4"]


def test_a_line_dated_in_the_future_makes_no_key_immune(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(_config_file(tmp_path))  # 4 failing GETs in 5 minutes ban
    log = tmp_path / "www" / "a.example" / "logs" / "access.log"
    with fed_daemon(config, start=T0) as fed, caplog.at_level("WARNING"):
        # Two hours ahead: a window anchored there would drop every real failure of the key.
        fed.feed(log, access_line("203.0.113.30", "/x", when=T0 + 7200))
        fed.feed(log, "".join(access_line("203.0.113.30", f"/y{n}", when=T0 + n)
                              for n in range(3)), first_line=2)
        assert fed.banned("web") == ["203.0.113.30"]
        [jail] = fed.daemon.status()["jails"]
        assert jail["future_dated"] == 1
    assert "dated 7200 s ahead of this host's clock" in caplog.text
