"""Tests of the daemon's wiring with real files, real inotify, a real control socket and
SQLite; the firewall is the recording twin (nftables itself is tested in tests/e2e)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from floodwall.config.loader import load_config
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.errors import ControlError
from floodwall.server.control import request
from floodwall.server.daemon import Daemon
from tests.support.daemons import with_daemon
from tests.support.waiting import until

CONFIG = """
[floodwall]
state_dir = "{root}/state"
socket = "{root}/ctl/control.sock"
backend = "dry-run"
new_files_from = "start"

[defaults]
ignoreip = ["192.0.2.250"]

[jails.web]
logpath = ["{root}/www/*/logs/access.log"]
methods = ["GET"]
status = [404]
maxretry = {maxretry}
findtime = "5m"
bantime = "1h"
"""


def _line(client: str, path: str = "/wp-admin/", status: int = 404, second: int = 0) -> str:
    return (f'{client} - - [02/Mar/2026:08:00:{second:02d} +0000] "GET {path} HTTP/1.1" '
            f'{status} 153 "-" "scanner"\n')


def _write(root: Path, maxretry: int = 4) -> Path:
    path = root / "floodwall.toml"
    path.write_text(CONFIG.format(root=root, maxretry=maxretry))
    for site in ("a.example", "b.example"):
        (root / "www" / site / "logs").mkdir(parents=True, exist_ok=True)
        (root / "www" / site / "logs" / "access.log").touch()
    return path


def _append(root: Path, site: str, text: str) -> None:
    with open(root / "www" / site / "logs" / "access.log", "a") as log:
        log.write(text)


def _scenario(root: Path, body: Callable[[Daemon, RecordingEnforcer], Awaitable[None]],
              maxretry: int = 4) -> None:
    enforcer = RecordingEnforcer()
    with_daemon(load_config(_write(root, maxretry)), lambda daemon: body(daemon, enforcer),
                enforcer=enforcer)


def test_failures_across_vhosts_are_counted_together_and_banned(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        _append(tmp_path, "a.example", _line("203.0.113.7", second=1) * 2)
        _append(tmp_path, "b.example", _line("203.0.113.7", second=2))
        await until(lambda: daemon.lines_read == 3, "3 lines read")
        assert enforcer.elements()["web"] == []
        _append(tmp_path, "b.example", _line("203.0.113.7", second=3))
        await until(lambda: enforcer.elements()["web"] == ["203.0.113.7"], "the ban")
        stored = daemon.database.bans_of("203.0.113.7")[0]
        evidence = daemon.database.evidence(stored.id)
        # Counted over both vhosts; the evidence holds the failures from half the threshold on.
        assert [Path(e.path).parts[-3] for e in evidence] == [
            "a.example", "b.example", "b.example"]
        assert "4 failures" in stored.ban.reason and stored.ban.count == 4

    _scenario(tmp_path, body)


def test_control_socket_ban_unban_status_and_allowlist(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        socket = daemon.config.socket

        def call(command: str, **arguments: object) -> dict[str, object]:
            return request(socket, command, **arguments)

        answer = await asyncio.to_thread(call, "ban", address="2001:db8::5", bantime="10m")
        assert [b["address"] for b in answer["bans"]] == ["2001:db8::5"]  # type: ignore[index]
        assert enforcer.elements()["manual"] == ["2001:db8::5"]
        with pytest.raises(ControlError, match="allowlisted"):
            await asyncio.to_thread(call, "ban", address="192.0.2.250")
        with pytest.raises(ControlError, match="not an IP"):
            await asyncio.to_thread(call, "ban", address="$(reboot)")
        status = await asyncio.to_thread(call, "status")
        assert status["active_bans"] == 1 and status["files"] == 2
        removed = await asyncio.to_thread(call, "unban", address="2001:db8::5")
        assert len(removed["removed"]) == 1  # type: ignore[arg-type]
        assert enforcer.elements()["manual"] == []
        with pytest.raises(ControlError, match="unknown command"):
            await asyncio.to_thread(call, "format-disk")

    _scenario(tmp_path, body)


def test_reload_keeps_counts_and_bans(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        _append(tmp_path, "a.example", _line("198.51.100.3", second=1) * 3)
        await until(lambda: daemon.lines_read == 3, "3 lines read")
        await asyncio.to_thread(request, daemon.config.socket, "ban", address="198.51.100.200")
        _write(tmp_path, maxretry=5)
        await daemon.reload()
        assert daemon.pipeline.jails["web"].config.maxretry == 5
        assert enforcer.elements()["manual"] == ["198.51.100.200"]  # re-applied after setup
        _append(tmp_path, "b.example", _line("198.51.100.3", second=2))
        await until(lambda: daemon.lines_read == 4, "4th line")
        assert enforcer.elements()["web"] == []  # 4 of 5
        _append(tmp_path, "b.example", _line("198.51.100.3", second=3))
        await until(lambda: enforcer.elements()["web"] == ["198.51.100.3"], "ban at 5")

    _scenario(tmp_path, body, maxretry=4)


def test_a_reload_names_what_only_a_restart_applies(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        path = _write(tmp_path, maxretry=6)
        path.write_text(path.read_text().replace('backend = "dry-run"', 'backend = "nftables"')
                        + '\n[http]\nlisten = "127.0.0.1:0"\n')
        with caplog.at_level("WARNING", logger="floodwall"):
            await daemon.reload()
        assert daemon.pipeline.jails["web"].config.maxretry == 6  # in force now
        [warning] = [r.getMessage() for r in caplog.records if r.getMessage().startswith(
            "reload:")]
        assert "[floodwall] backend, [http] changed" in warning and "next restart" in warning

    _scenario(tmp_path, body)


def test_a_bad_reload_changes_nothing(tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        (tmp_path / "floodwall.toml").write_text("[jails.web]\nmaxretry = 'x'\n")
        await daemon.reload()
        assert daemon.pipeline.jails["web"].config.maxretry == 4

    _scenario(tmp_path, body)


def test_restart_reapplies_active_bans_and_resumes_logs(tmp_path: Path) -> None:
    async def first(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        _append(tmp_path, "a.example", _line("203.0.113.20") * 4)
        await until(lambda: enforcer.elements()["web"] == ["203.0.113.20"], "the ban")
        _append(tmp_path, "a.example", _line("203.0.113.21") * 2)
        await until(lambda: daemon.lines_read == 6, "6 lines")

    async def second(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        assert enforcer.elements()["web"] == ["203.0.113.20"]
        assert daemon.lines_read == 0  # the catch-up at start re-read nothing
        _append(tmp_path, "a.example", _line("203.0.113.21") * 2)
        await until(lambda: daemon.lines_read == 2, "2 new lines")

    _scenario(tmp_path, first)
    _scenario(tmp_path, second)


def _at(client: str, minute: int, second: int) -> str:
    return (f'{client} - - [02/Mar/2026:08:{minute:02d}:{second:02d} +0000] "GET /x HTTP/1.1" '
            '404 153 "-" "scanner"\n')


def test_a_source_back_after_a_pause_longer_than_findtime_is_banned_and_costs_no_one_a_ban(
        tmp_path: Path) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        _append(tmp_path, "a.example", _at("203.0.113.20", 0, 1) + _at("203.0.113.20", 0, 2))
        _append(tmp_path, "a.example", _at("203.0.113.20", 10, 0))  # 10 minutes later
        await until(lambda: daemon.lines_read == 3, "3 lines read")
        # One batch: the returning source again, and another source's 4 failures.
        _append(tmp_path, "b.example", _at("203.0.113.20", 10, 1) + "".join(
            _at("203.0.113.21", 10, second) for second in range(4)))
        await until(lambda: enforcer.elements()["web"] == ["203.0.113.21"], "the other's ban")
        _append(tmp_path, "a.example", _at("203.0.113.20", 10, 2) + _at("203.0.113.20", 10, 3))
        await until(lambda: enforcer.elements()["web"] == ["203.0.113.20", "203.0.113.21"],
                    "the returning source's ban (4 failures within 5 minutes)")

    _scenario(tmp_path, body)


def test_a_line_that_breaks_a_jail_is_skipped_and_the_batch_still_bans(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def body(daemon: Daemon, enforcer: RecordingEnforcer) -> None:
        jail = daemon.pipeline.jails["web"]
        real = jail.filter.failures

        def breaks_on_one_line(entry):  # type: ignore[no-untyped-def]
            if "203.0.113.66" in entry.line.text:
                raise RuntimeError("a bug in a filter")
            return real(entry)

        jail.filter.failures = breaks_on_one_line  # type: ignore[method-assign]
        _append(tmp_path, "a.example", _at("203.0.113.66", 0, 0) + "".join(
            _at("203.0.113.22", 0, second) for second in range(1, 5)))
        await until(lambda: enforcer.elements()["web"] == ["203.0.113.22"], "the ban")
        [record] = [r for r in caplog.records if "failed" in r.getMessage()]
        assert "a.example/logs/access.log line 1 failed; the line is skipped" in record.getMessage()

    _scenario(tmp_path, body)


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
