"""fail2ban command actions: real commands run (or refused) for real bans."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from floodwall.config.fail2ban_actions import command_action, resolve_action
from floodwall.config.fail2ban_filters import load_filter
from floodwall.enforcement.base import JailFirewall
from floodwall.enforcement.commands import CommandEnforcer
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.matching.entries import Entry
from floodwall.matching.fail2ban_adapter import Fail2banLineFilter
from floodwall.model import Ban, Change, Failure
from floodwall.settings.values import Fail2banFilterConfig, JailConfig
from tests.support.configs import load
from tests.support.lines import T0, source_lines, sshd_failed_line
from tests.support.waiting import wait_until

SSHD_FILTER = Path("/etc/fail2ban/filter.d/sshd.conf")
ARGV_ACTION = """[Definition]
actionstart = touch <dir>/started-<name>
actionstop = rm -f <dir>/started-<name>
actionban = touch <dir>/banned-<ip>-<failures>
actionunban = rm <dir>/banned-<ip>-<failures>
[Init]
dir = {dir}
"""
SHELL_ACTION = """[Definition]
actionban = echo <F-USER> >> <dir>/users && touch <dir>/shell-banned-<ip>
[Init]
dir = {dir}
"""


def _jail(tmp_path: Path, action: str, *, firewall: bool) -> JailConfig:
    path = tmp_path / "action.d" / "note.conf"
    path.parent.mkdir(exist_ok=True)
    path.write_text(action.format(dir=tmp_path))
    command = command_action(resolve_action(str(path), {}, "sshd", {}))
    return JailConfig(name="sshd", logpath=(), filter="fail2ban", maxretry=3, findtime=600,
                      bantime=600, commands=(command,), firewall=firewall)


def _ban(key: str) -> Ban:
    return Ban(key, "sshd", 1_700_000_000.0, 1_700_000_600.0, count=3)


def _sshd_failures(user: str, address: str) -> list[Failure]:
    """Failures the real sshd filter reads from a log line naming `user`."""
    line_filter = Fail2banLineFilter("sshd", Fail2banFilterConfig(load_filter(str(SSHD_FILTER))))
    text = sshd_failed_line(address, user, pid=4242, port=50022, host="host", when=T0)
    [line] = source_lines("auth.log", text)
    failures = line_filter.failures(Entry(line, None))
    assert [failure.key for failure in failures] == [address]
    return failures


def test_start_ban_unban_stop_run_without_a_shell(tmp_path: Path) -> None:
    inner = RecordingEnforcer()
    enforcer = CommandEnforcer(inner, [_jail(tmp_path, ARGV_ACTION, firewall=True)])
    enforcer.setup([JailFirewall("sshd", ("ssh",))])
    assert enforcer.settle(10)
    assert (tmp_path / "started-sshd").exists()
    enforcer.apply([Change("add", _ban("192.0.2.8")), Change("add", _ban("2001:db8::8"))], 0)
    assert enforcer.settle(10)
    assert (tmp_path / "banned-192.0.2.8-3").exists()
    assert (tmp_path / "banned-2001:db8::8-3").exists()
    assert inner.elements() == {"sshd": ["192.0.2.8", "2001:db8::8"]}  # native one too
    enforcer.apply([Change("remove", _ban("192.0.2.8"))], 0)
    assert enforcer.settle(10)
    assert not (tmp_path / "banned-192.0.2.8-3").exists()
    enforcer.teardown()
    assert not (tmp_path / "started-sshd").exists() and inner.teardowns == 1


@pytest.mark.skipif(not SSHD_FILTER.exists(), reason="LOUD SKIP: Debian's fail2ban package "
                    "(its sshd filter) is not installed")
def test_shell_metacharacters_from_a_log_line_reach_the_action_as_text_never_as_shell(
        tmp_path: Path) -> None:
    user = f"x;touch${{IFS}}{tmp_path}/pwned`id`$(id)'\"\\"
    failures = _sshd_failures(user, "192.0.2.9")
    assert failures[0].fields["user"] == user
    jail = _jail(tmp_path, SHELL_ACTION, firewall=False)
    enforcer = CommandEnforcer(RecordingEnforcer(), [jail], evidence=lambda ban: failures)
    enforcer.setup([JailFirewall("sshd")])
    enforcer.apply([Change("add", _ban("192.0.2.9"))], 0)
    assert enforcer.settle(10)
    assert not (tmp_path / "pwned").exists()
    # The ban ran (an attacker no longer escapes a command-only jail by their user name),
    # with the name exactly as the attacker wrote it.
    assert (tmp_path / "shell-banned-192.0.2.9").exists()
    assert (tmp_path / "users").read_text() == user + "\n"


@pytest.mark.skipif(not SSHD_FILTER.exists(), reason="LOUD SKIP: Debian's fail2ban package "
                    "(its sshd filter) is not installed")
def test_a_plain_user_name_reaches_a_shell_command(tmp_path: Path) -> None:
    failures = _sshd_failures("admin", "192.0.2.10")
    inner = RecordingEnforcer()
    enforcer = CommandEnforcer(inner, [_jail(tmp_path, SHELL_ACTION, firewall=False)],
                               evidence=lambda ban: failures)
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    assert inner.setups == [()]  # a command-only jail gets no firewall set
    enforcer.apply([Change("add", _ban("192.0.2.10"))], 0)
    assert enforcer.settle(10)
    assert (tmp_path / "users").read_text() == "admin\n"
    assert (tmp_path / "shell-banned-192.0.2.10").exists()
    assert inner.changes == [] and enforcer.elements() == {"sshd": ["192.0.2.10"]}


@pytest.mark.skipif(not SSHD_FILTER.exists(), reason="LOUD SKIP: Debian's fail2ban package "
                    "(its sshd filter) is not installed")
def test_the_daemon_hands_a_bans_failures_to_command_actions(tmp_path: Path) -> None:
    from dataclasses import replace

    from floodwall.clock import ManualClock
    from floodwall.server.daemon import Daemon

    log = tmp_path / "auth.log"
    jail = replace(_jail(tmp_path, SHELL_ACTION, firewall=False), logpath=(str(log),),
                   fail2ban=Fail2banFilterConfig(load_filter(str(SSHD_FILTER))))
    config = replace(load(tmp_path, {"other": {"logpath": "/x"}}), jails=(jail,))
    daemon = Daemon(config, clock=ManualClock(T0 + 10))  # dry-run under the command action
    try:
        # maxretry is 3: the third failed password bans, with the user of each line
        daemon.process(source_lines(log, "".join(
            sshd_failed_line("192.0.2.11", "operator", pid=4242 + n, port=50022, host="host",
                             when=T0 + n) for n in range(3))))
        assert daemon.bans.enforcer.settle(10)  # type: ignore[attr-defined]
        assert (tmp_path / "users").read_text() == "operator\n"
        assert (tmp_path / "shell-banned-192.0.2.11").exists()
    finally:
        daemon.database.close()


PROLONG_ACTION = """[Definition]
actionban = touch <dir>/banned-<ip>
actionprolong = touch <dir>/prolonged-<ip>-<bantime>
[Init]
dir = {dir}
"""


def test_an_extended_ban_runs_actionprolong_where_the_action_has_one(tmp_path: Path) -> None:
    enforcer = CommandEnforcer(RecordingEnforcer(),
                               [_jail(tmp_path, PROLONG_ACTION, firewall=False)])
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    first = _ban("192.0.2.8")
    longer = Ban("192.0.2.8", "sshd", first.start, first.start + 7200, count=6)
    enforcer.apply([Change("add", first)], 0)
    assert enforcer.settle(10)
    enforcer.apply([Change("add", longer)], 0)
    assert enforcer.settle(10)
    assert (tmp_path / "banned-192.0.2.8").exists()
    assert (tmp_path / "prolonged-192.0.2.8-7200").exists()
    # without actionprolong an extension runs nothing (not actionban again)
    plain = CommandEnforcer(RecordingEnforcer(), [_jail(tmp_path, ARGV_ACTION, firewall=False)])
    plain.setup([JailFirewall("sshd")])
    assert plain.settle(10)
    plain.apply([Change("add", _ban("192.0.2.9"))], 0)
    assert plain.settle(10)
    (tmp_path / "banned-192.0.2.9-3").unlink()
    plain.apply([Change("add", longer)], 0)
    assert plain.settle(10)
    assert not list(tmp_path.glob("banned-192.0.2.9-*"))


def test_a_reload_restarts_changed_actions_and_bans_again(tmp_path: Path) -> None:
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir(), new_dir.mkdir()
    enforcer = CommandEnforcer(RecordingEnforcer(), [_jail(old_dir, ARGV_ACTION, firewall=True)])
    enforcer.setup([JailFirewall("sshd", ("ssh",))])
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8"))], 0)
    assert enforcer.settle(10)
    assert (old_dir / "started-sshd").exists() and (old_dir / "banned-192.0.2.8-3").exists()
    # the same actions: nothing stops, nothing is banned twice
    enforcer.reconfigure([_jail(old_dir, ARGV_ACTION, firewall=True)])
    assert enforcer.settle(10)
    assert (old_dir / "started-sshd").exists()
    # changed actions: the old ones stop, the new ones start and get the active bans
    enforcer.reconfigure([_jail(new_dir, ARGV_ACTION, firewall=True)])
    assert enforcer.settle(10)
    assert not (old_dir / "started-sshd").exists()
    enforcer.setup([JailFirewall("sshd", ("ssh",))])
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8"))], 0)
    assert enforcer.settle(10)
    assert (new_dir / "started-sshd").exists() and (new_dir / "banned-192.0.2.8-3").exists()


LIFECYCLE_ACTION = """[Definition]
actionstart = touch <dir>/started
actionstop = rm -f <dir>/started
actionflush = touch <dir>/flushed
actionban = touch <dir>/banned-<ip>-<restored>
actionunban = touch <dir>/unbanned-<ip>
actionreload = touch <dir>/reloaded
[Init]
dir = {dir}
"""


def _jail_of(tmp_path: Path, *actions: str, name: str = "note") -> JailConfig:
    commands = []
    for index, text in enumerate(actions):
        path = tmp_path / "action.d" / f"{name}{index}.conf"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        commands.append(command_action(resolve_action(str(path), {}, "sshd", {})))
    return JailConfig(name="sshd", logpath=(), filter="fail2ban", maxretry=3, findtime=600,
                      bantime=600, commands=tuple(commands), firewall=False)


def test_norestored_actions_skip_the_bans_restored_at_start(tmp_path: Path) -> None:
    plain, mail = tmp_path / "plain", tmp_path / "mail"
    plain.mkdir(), mail.mkdir()
    quiet = LIFECYCLE_ACTION.format(dir=mail).replace("[Init]", "norestored = 1\n[Init]")
    enforcer = CommandEnforcer(RecordingEnforcer(), [_jail_of(
        tmp_path, LIFECYCLE_ACTION.format(dir=plain), quiet)])
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8"), restored=True),
                    Change("add", _ban("192.0.2.9"))], 0)
    assert enforcer.settle(10)
    assert (plain / "banned-192.0.2.8-1").exists() and (plain / "banned-192.0.2.9-0").exists()
    assert not list(mail.glob("banned-192.0.2.8-*")) and (mail / "banned-192.0.2.9-0").exists()
    enforcer.apply([Change("remove", _ban("192.0.2.8"))], 0)
    assert enforcer.settle(10)
    assert (plain / "unbanned-192.0.2.8").exists()
    assert not (mail / "unbanned-192.0.2.8").exists()  # it never banned it


def test_stop_flushes_once_or_unbans_each_then_stops_and_a_restart_bans_again(
        tmp_path: Path) -> None:
    flushing, unbanning = tmp_path / "flushing", tmp_path / "unbanning"
    flushing.mkdir(), unbanning.mkdir()
    each = "\n".join(line for line in LIFECYCLE_ACTION.format(dir=unbanning).splitlines()
                     if not line.startswith("actionflush"))
    jail = _jail_of(tmp_path, LIFECYCLE_ACTION.format(dir=flushing), each)
    inner = RecordingEnforcer()
    enforcer = CommandEnforcer(inner, [jail])
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8")), Change("add", _ban("192.0.2.9"))], 0)
    assert enforcer.settle(10)
    enforcer.close()
    assert (flushing / "flushed").exists() and not list(flushing.glob("unbanned-*"))
    assert sorted(p.name for p in unbanning.glob("unbanned-*")) == [
        "unbanned-192.0.2.8", "unbanned-192.0.2.9"]
    assert not (flushing / "started").exists() and not (unbanning / "started").exists()
    assert inner.closes == 1 and inner.teardowns == 0

    again = CommandEnforcer(RecordingEnforcer(), [jail])  # the next start, from the ledger
    again.setup([JailFirewall("sshd")])
    assert again.settle(10)
    again.apply([Change("add", _ban("192.0.2.8"), restored=True)], 0)
    assert again.settle(10)
    assert (flushing / "started").exists() and (flushing / "banned-192.0.2.8-1").exists()


def test_a_reload_of_unchanged_actions_runs_actionreload_and_nothing_else(
        tmp_path: Path) -> None:
    jail = _jail_of(tmp_path, LIFECYCLE_ACTION.format(dir=tmp_path).replace(
        "[Init]", f"actionprolong = touch {tmp_path}/prolonged\n[Init]"))
    enforcer = CommandEnforcer(RecordingEnforcer(), [jail])
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8"))], 0)
    assert enforcer.settle(10)
    enforcer.reconfigure([jail])
    assert enforcer.settle(10)
    enforcer.setup([JailFirewall("sshd")])  # the daemon rebuilds the firewall from the ledger
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8"), restored=True)], 0)
    assert enforcer.settle(10)
    assert (tmp_path / "reloaded").exists()
    assert not (tmp_path / "prolonged").exists() and not (tmp_path / "flushed").exists()
    assert not (tmp_path / "banned-192.0.2.8-1").exists()


# A "chain" the ban needs; actioncheck sees whether it is there.
REPAIR_ACTION = """[Definition]
actionstart = touch <dir>/chain
actionstop = rm -f <dir>/chain
actioncheck = test -e <dir>/chain
actionban = test -e <dir>/chain && touch <dir>/banned-<ip>
actionunban = test -e <dir>/chain && rm <dir>/banned-<ip>
{repair}
[Init]
dir = {dir}
"""


@pytest.mark.parametrize("repair", [
    "actionrepair = touch <dir>/chain <dir>/repaired\nactionreban = touch <dir>/rebanned-<ip>",
    ""])
def test_a_failed_ban_checks_repairs_bans_again_and_retries(
        tmp_path: Path, repair: str, caplog: pytest.LogCaptureFixture) -> None:
    enforcer = CommandEnforcer(RecordingEnforcer(), [_jail_of(
        tmp_path, REPAIR_ACTION.format(dir=tmp_path, repair=repair))])
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8"))], 0)
    assert enforcer.settle(10)
    (tmp_path / "chain").unlink()  # someone flushed the firewall behind our back
    (tmp_path / "banned-192.0.2.8").unlink()
    with caplog.at_level(logging.ERROR, logger="floodwall.enforcement"):
        enforcer.apply([Change("add", _ban("192.0.2.9"))], 0)
        assert enforcer.settle(10)
    assert (tmp_path / "chain").exists() and (tmp_path / "banned-192.0.2.9").exists()
    if repair:  # actionrepair, then actionreban for what the action held
        assert (tmp_path / "repaired").exists() and (tmp_path / "rebanned-192.0.2.8").exists()
    else:  # actionstop + actionstart, then actionban again for what it held
        assert (tmp_path / "banned-192.0.2.8").exists()
    assert any("restoring a sane environment" in r.getMessage() for r in caplog.records)


def test_a_failed_unban_is_not_repaired_unless_asked(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    enforcer = CommandEnforcer(RecordingEnforcer(), [_jail_of(
        tmp_path, REPAIR_ACTION.format(dir=tmp_path, repair=""))])
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8"))], 0)
    assert enforcer.settle(10)
    (tmp_path / "chain").unlink()
    with caplog.at_level(logging.ERROR, logger="floodwall.enforcement"):
        enforcer.apply([Change("remove", _ban("192.0.2.8"))], 0)
        assert enforcer.settle(10)
    assert not (tmp_path / "chain").exists()  # not restarted for an unban
    assert any("actionrepair_on_unban" in r.getMessage() for r in caplog.records)


ON_DEMAND_ACTION = """[Definition]
actionstart_on_demand = true
actionstart = touch <dir>/started-<family>
actionstop = rm <dir>/started-<family>
actionban = touch <dir>/banned-<ip>
[Init]
dir = {dir}
"""


def test_an_on_demand_action_starts_per_address_family_at_its_first_ban(
        tmp_path: Path) -> None:
    enforcer = CommandEnforcer(RecordingEnforcer(), [_jail_of(
        tmp_path, ON_DEMAND_ACTION.format(dir=tmp_path))])
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    assert not list(tmp_path.glob("started-*"))
    enforcer.apply([Change("add", _ban("192.0.2.8")), Change("add", _ban("192.0.2.9"))], 0)
    assert enforcer.settle(10)
    assert [p.name for p in tmp_path.glob("started-*")] == ["started-inet4"]
    enforcer.apply([Change("add", _ban("2001:db8::8"))], 0)
    assert enforcer.settle(10)
    assert sorted(p.name for p in tmp_path.glob("started-*")) == ["started-inet4",
                                                                 "started-inet6"]
    enforcer.close()
    assert not list(tmp_path.glob("started-*"))


GATED_ACTION = """[Definition]
actionban = i=0; while [ ! -e <dir>/go ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; touch <dir>/banned-<ip>
[Init]
dir = {dir}
"""


def test_a_slow_action_holds_up_neither_the_firewall_nor_the_other_jails(
        tmp_path: Path) -> None:
    from dataclasses import replace

    slow_dir, fast_dir = tmp_path / "slow", tmp_path / "fast"
    slow_dir.mkdir(), fast_dir.mkdir()
    slow = _jail_of(slow_dir, GATED_ACTION.format(dir=slow_dir))
    fast = replace(_jail_of(fast_dir, LIFECYCLE_ACTION.format(dir=fast_dir)), name="web",
                   firewall=True)
    inner = RecordingEnforcer()
    enforcer = CommandEnforcer(inner, [slow, fast])
    enforcer.setup([JailFirewall("sshd"), JailFirewall("web")])
    web_ban = Ban("192.0.2.20", "web", 1_700_000_000.0, 1_700_000_600.0, count=3)
    enforcer.apply([Change("add", _ban("192.0.2.8")), Change("add", web_ban)], 0)
    # apply returned while sshd's actionban still waits for its gate
    assert inner.elements() == {"web": ["192.0.2.20"]}
    assert not enforcer.settle(0.2) and not (slow_dir / "banned-192.0.2.8").exists()
    assert enforcer.pending()["sshd"] == 1
    wait_until(lambda: (fast_dir / "banned-192.0.2.20-0").exists(), 10, "web's actionban")
    assert not (slow_dir / "banned-192.0.2.8").exists()
    (slow_dir / "go").touch()
    assert enforcer.settle(10) and (slow_dir / "banned-192.0.2.8").exists()
    assert enforcer.pending() == {"sshd": 0, "web": 0}
    enforcer.close()
    assert not (fast_dir / "started").exists()


QUOTING_ACTION = """[Definition]
actionban = printf '%%s|' "u=<F-USER>" 'single <F-USER> quoted' <F-USER> > <dir>/quoted
            touch <dir>/names/<F-USER>
            printf '%%s' "<matches>" > <dir>/matches
[Init]
dir = {dir}
"""


@pytest.mark.parametrize("user", ["../../escaped", "..", "a/b", "plain", "$(id) ' \" \\ *"])
def test_log_values_keep_their_quotes_and_their_directory(tmp_path: Path, user: str) -> None:
    (tmp_path / "names").mkdir()
    lines = ("line one; rm -rf /", "line 'two' $(id)")
    failures = [Failure("sshd", "192.0.2.12", 1.0, "auth.log", n, text, {"user": user})
                for n, text in enumerate(lines, start=1)]
    enforcer = CommandEnforcer(RecordingEnforcer(),
                               [_jail(tmp_path, QUOTING_ACTION, firewall=False)],
                               evidence=lambda ban: failures)
    enforcer.setup([JailFirewall("sshd")])
    enforcer.apply([Change("add", _ban("192.0.2.12"))], 0)
    assert enforcer.settle(10)
    assert (tmp_path / "quoted").read_text() == f"u={user}|single {user} quoted|{user}|"
    assert (tmp_path / "matches").read_text() == "\n".join(lines)
    [made] = list((tmp_path / "names").iterdir())  # one file, in its directory
    assert made.name.replace("%2F", "/").replace("%2E", ".").replace("%25", "%") == user
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "action.d", "matches", "names", "quoted"]


FAILING_ACTION = """[Definition]
actionban = test -e <dir>/works && touch <dir>/banned-<ip>
actionunban = rm -f <dir>/banned-<ip>
[Init]
dir = {dir}
"""


def test_a_ban_an_action_fails_to_enforce_is_shown_and_counted(tmp_path: Path) -> None:
    from dataclasses import replace

    from floodwall.clock import ManualClock
    from floodwall.server.daemon import Daemon
    from floodwall.server.metrics import render_metrics

    jail = replace(_jail(tmp_path, FAILING_ACTION, firewall=False), filter="sshd")
    config = replace(load(tmp_path, {"other": {"logpath": "/x"}}), jails=(jail,))
    daemon = Daemon(config, clock=ManualClock(T0))
    try:
        daemon.bans.rebuild_firewall()
        daemon.bans.ban_by_hand("192.0.2.21", "sshd")  # the action fails: no <dir>/works
        assert daemon.bans.enforcer.settle(10)  # type: ignore[attr-defined]
        (tmp_path / "works").touch()
        daemon.bans.ban_by_hand("192.0.2.22", "sshd")
        assert daemon.bans.enforcer.settle(10)  # type: ignore[attr-defined]
        answer = asyncio.run(daemon.handle_request({"command": "bans"}))
        marks = {ban["address"]: ban.get("not_enforced_by") for ban in answer["bans"]}
        assert marks == {"192.0.2.21": ["note"], "192.0.2.22": None}
        [status] = [j for j in daemon.status()["jails"] if j["name"] == "sshd"]
        assert status["actions_failed"] == 1
        assert 'floodwall_action_failures_total{jail="sshd"} 1.0' in render_metrics(
            daemon).decode()
    finally:
        daemon.database.close()
