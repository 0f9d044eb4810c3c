"""fail2ban command actions in a started daemon: a reload with changed actions stops the old
ones and starts the new ones, which get the active bans; a stop lifts and the next start
restores; real commands and SQLite, the bans made from sshd lines fed to the ban path
directly (on a manual clock)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from floodwall.clock import ManualClock
from floodwall.config.loader import load_config
from floodwall.server.daemon import Daemon
from tests.support import fail2ban_dir
from tests.support.daemons import with_daemon
from tests.support.lines import T0, source_lines, sshd_invalid_user_line
from tests.support.waiting import until

REASON = fail2ban_dir.skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

JAIL_LOCAL = """
[sshd]
enabled = true
logpath = {root}/auth.log
maxretry = 2
action = note
"""

ACTION = """[Definition]
actionstart = touch {marks}/started
actionstop = rm -f {marks}/started
actionban = touch {marks}/banned-<ip>
actionunban = rm -f {marks}/banned-<ip>
"""


def _two_attempts(daemon: Daemon, root: Path, address: str) -> None:
    """Feed the ban path two failed ssh attempts of `address` in `root`/auth.log (maxretry
    is 2: a ban)."""
    daemon.process(source_lines(root / "auth.log", "".join(
        sshd_invalid_user_line(address, pid=port, port=port, host="host", when=T0 + port)
        for port in (1, 2))))


def _with_daemon(root: Path, body: Callable[[Daemon], Awaitable[None]]) -> None:
    """A started daemon on root's floodwall.toml (dry-run + command actions) around `body`,
    its clock just after the attempts' time."""
    with_daemon(load_config(root / "floodwall.toml"), body, clock=ManualClock(T0 + 10))


def _note_action(root: Path, action: str) -> Path:
    """The fail2ban config of JAIL_LOCAL under `root` with `action` as action.d/note.conf
    (its {marks} the folder returned), and a floodwall.toml reading it."""
    marks = root / "marks"
    marks.mkdir()
    fail2ban_dir.copy_config(root / "fail2ban", JAIL_LOCAL.format(root=root),
                             {"action.d/note.conf": action.format(marks=marks)})
    fail2ban_dir.floodwall_toml(root)
    return marks


def test_changed_actions_restart_and_get_the_active_bans(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    directory = fail2ban_dir.copy_config(tmp_path / "fail2ban", JAIL_LOCAL.format(root=tmp_path),
                                         {"action.d/note.conf": ACTION.format(marks=old)})
    fail2ban_dir.floodwall_toml(tmp_path)

    async def main(daemon: Daemon) -> None:
        await until(lambda: (old / "started").exists(), "the action's start", timeout=20.0)
        _two_attempts(daemon, tmp_path, "192.0.2.7")
        await until(lambda: (old / "banned-192.0.2.7").exists(), "the old action's ban",
                    timeout=20.0)
        (directory / "action.d" / "note.conf").write_text(ACTION.format(marks=new))
        await daemon.reload()
        await until(lambda: not (old / "started").exists(), "the old action's stop",
                    timeout=20.0)
        await until(lambda: (new / "started").exists() and (new / "banned-192.0.2.7").exists(),
                    "the new action's start and ban", timeout=20.0)

    _with_daemon(tmp_path, main)


def test_a_reload_that_brings_the_first_command_action_runs_it(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    native = JAIL_LOCAL.replace("action = note", "banaction = nftables-multiport")
    directory = fail2ban_dir.copy_config(tmp_path / "fail2ban", native.format(root=tmp_path),
                                         {"action.d/note.conf": ACTION.format(marks=marks)})
    fail2ban_dir.floodwall_toml(tmp_path)

    async def main(daemon: Daemon) -> None:
        _two_attempts(daemon, tmp_path, "192.0.2.8")
        assert [ban.key for ban in daemon.bans.ledger.active()] == ["192.0.2.8"]  # the native ban
        assert not (marks / "started").exists()
        (directory / "jail.local").write_text(JAIL_LOCAL.format(root=tmp_path))
        await daemon.reload()
        await until(lambda: (marks / "started").exists()
                    and (marks / "banned-192.0.2.8").exists(), "the action's start and ban",
                    timeout=20.0)

    _with_daemon(tmp_path, main)


LIFECYCLE = """[Definition]
actionstart = touch {marks}/started
actionstop = rm -f {marks}/started
actionflush = touch {marks}/flushed
actionban = touch {marks}/banned-<ip>-<restored>
actionunban = rm -f {marks}/banned-<ip>-0 {marks}/banned-<ip>-1
"""


def test_a_stop_lifts_command_bans_and_the_next_start_restores_them(tmp_path: Path) -> None:
    marks = _note_action(tmp_path, LIFECYCLE)

    def run_once(check: Callable[[], bool], what: str, attempts: bool = False) -> None:
        async def body(daemon: Daemon) -> None:
            if attempts:
                _two_attempts(daemon, tmp_path, "192.0.2.9")
            await until(check, what, timeout=20.0)
            assert (marks / "started").exists()

        _with_daemon(tmp_path, body)

    run_once(lambda: (marks / "banned-192.0.2.9-0").exists(), "the ban", attempts=True)
    assert (marks / "flushed").exists() and not (marks / "started").exists()
    (marks / "banned-192.0.2.9-0").unlink()  # what the flush did, for this fake action
    run_once(lambda: (marks / "banned-192.0.2.9-1").exists(), "the restored ban")


@pytest.mark.skipif(not Path("/etc/fail2ban/action.d/smtp.py").exists(),
                    reason="LOUD SKIP: Debian's fail2ban package (its smtp.py) is missing")
def test_a_python_action_mails_a_ban_made_from_the_log(tmp_path: Path) -> None:
    from tests.support.smtp import smtp_server

    with smtp_server() as (port, messages):
        fail2ban_dir.copy_config(tmp_path / "fail2ban", JAIL_LOCAL.format(root=tmp_path).replace(
            "action = note", f"action = smtp.py[host=127.0.0.1:{port}, dest=ops@example.org]"))
        fail2ban_dir.floodwall_toml(tmp_path)

        async def main(daemon: Daemon) -> None:
            _two_attempts(daemon, tmp_path, "192.0.2.30")
            await until(lambda: any("banned 192.0.2.30" in m for m in messages),
                        "the ban's mail", timeout=20.0)

        _with_daemon(tmp_path, main)
    assert ["started" in messages[0], "stopped" in messages[-1]] == [True, True]


GATED = """[Definition]
actionban = i=0; while [ ! -e {marks}/go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; touch {marks}/banned-<ip>
"""


def test_status_and_metrics_show_action_calls_still_waiting(tmp_path: Path) -> None:
    from floodwall.server.metrics import render_metrics

    marks = _note_action(tmp_path, GATED)

    async def main(daemon: Daemon) -> None:
        _two_attempts(daemon, tmp_path, "192.0.2.40")
        await until(lambda: daemon.status()["jails"][0]["actions_pending"] == 1,
                    "the ban waiting on its gate", timeout=20.0)
        assert 'floodwall_actions_pending{jail="sshd"} 1.0' in render_metrics(
            daemon).decode()
        (marks / "go").touch()
        await until(lambda: daemon.status()["jails"][0]["actions_pending"] == 0,
                    "the ban to run", timeout=20.0)
        assert (marks / "banned-192.0.2.40").exists()

    _with_daemon(tmp_path, main)
