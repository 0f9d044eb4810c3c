"""fail2ban's ignorecommand: a real command decides, before a ban, whether to leave an
address be; its answer is reused, and nothing but a checked address reaches it."""

from __future__ import annotations

from pathlib import Path

from floodwall.addresses import Allowlist
from floodwall.bans.policy import BanPolicy
from floodwall.enforcement.ignorecommand import DEFAULT_CACHE, IgnoreCommand, ignore_commands
from floodwall.model import Decision
from floodwall.settings.values import JailConfig


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "check-ip"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def test_exit_zero_ignores_the_address_and_one_bans_it(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    script = _script(tmp_path, f'echo "$1" >> {calls}\n[ "$1" = 192.0.2.7 ]\n')
    jail = JailConfig(name="sshd", logpath=(), filter="sshd", maxretry=3, findtime=600,
                      bantime=3600, ignorecommand=f"{script} <ip>")
    policy = BanPolicy({"sshd": jail}, Allowlist(()), ignore_checks=ignore_commands([jail]))
    refusal = policy.refusal("192.0.2.7", "sshd")
    assert refusal is not None and "ignorecommand" in refusal.reason
    assert policy.refusal("192.0.2.8", "sshd") is None
    decision = Decision(jail="sshd", key="192.0.2.8", time=1000.0, reason="3 failures",
                        failures=(), count=3)
    assert policy.ban_for(decision, 1000.0) is not None
    assert policy.refusal("192.0.2.7", None) is None  # a manual ban names no jail
    # the answers are reused: each address was asked once
    assert calls.read_text().split() == ["192.0.2.7", "192.0.2.8"]


def test_answers_expire_and_errors_ban(tmp_path: Path) -> None:
    now = [0.0]
    script = _script(tmp_path, "exit 3\n")
    command = IgnoreCommand("sshd", f"{script} <ip>", clock=lambda: now[0])
    assert not command.ignores("192.0.2.9")  # an error is no reason to let it in
    assert not command.ignores("192.0.2.9") and command.runs == 1
    now[0] += DEFAULT_CACHE[1] + 1
    assert not command.ignores("192.0.2.9") and command.runs == 2


def test_shell_syntax_in_the_command_still_gets_a_quoted_address(tmp_path: Path) -> None:
    out = tmp_path / "seen"
    command = IgnoreCommand("sshd", f"echo <ip> > {out}; exit 0")
    assert command.ignores("2001:db8::1")
    assert out.read_text().strip() == "2001:db8::1"


def test_a_key_that_is_not_an_address_never_reaches_the_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = IgnoreCommand("sshd", f"touch {marker} <ip>")
    assert not command.ignores("$(touch x)")
    assert not marker.exists() and command.runs == 0


def test_ignorecache_sets_how_many_answers_are_kept_and_for_how_long(tmp_path: Path) -> None:
    now = [0.0]
    script = _script(tmp_path, "exit 1\n")
    command = IgnoreCommand("sshd", f"{script} <ip>", cache=(2, 60.0), clock=lambda: now[0])
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.1"):
        command.ignores(address)
    assert command.runs == 2  # the second ask for .1 came from the cache
    command.ignores("192.0.2.3")  # full: the oldest answer (.1) goes
    command.ignores("192.0.2.2")
    assert command.runs == 3
    command.ignores("192.0.2.1")
    assert command.runs == 4
    now[0] += 61  # max-time passed: asked again
    command.ignores("192.0.2.1")
    assert command.runs == 5
