"""fail2ban Python actions (action.d/*.py) run by fail2ban's own Python in a helper process:
a recording action of the test's own, and Debian's smtp.py against an SMTP server on
loopback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from floodwall.enforcement.base import JailFirewall
from floodwall.enforcement.commands import CommandEnforcer
from floodwall.enforcement.python_actions import fail2ban_python
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.model import Ban, Change
from floodwall.settings.values import JailConfig, PythonActionConfig
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.skipif(
    fail2ban_python() is None,
    reason="LOUD SKIP: no Python with fail2ban's package (apt-get install fail2ban)")

RECORDING_ACTION = '''
import json
from fail2ban.server.actions import ActionBase


class RecordingAction(ActionBase):
    def __init__(self, jail, name, out, slow="no"):
        super().__init__(jail, name)
        self.out, self.slow = out, slow
        self.norestored = 1

    def _note(self, *what):
        with open(self.out, "a") as log:
            log.write(json.dumps([self._jail.name, *what]) + "\\n")

    def start(self):
        self._note("start", self._jail.actions.getBanTime())

    def stop(self):
        self._note("stop")

    def ban(self, aInfo):
        if self.slow == "yes" and aInfo["ip"] == "192.0.2.99":
            import time
            time.sleep(30)
        self._note("ban", aInfo["ip"], aInfo["failures"], aInfo["matches"], aInfo["restored"])

    def unban(self, aInfo):
        self._note("unban", aInfo["ip"])

    def flush(self):
        self._note("flush")


Action = RecordingAction
'''


def _jail(tmp_path: Path, **options: str) -> tuple[JailConfig, Path]:
    action = tmp_path / "action.d" / "recording.py"
    action.parent.mkdir(exist_ok=True)
    action.write_text(RECORDING_ACTION)
    out = tmp_path / "calls.jsonl"
    config = PythonActionConfig("recording", str(action),
                                tuple(sorted({"out": str(out), **options}.items())), 3600.0,
                                timeout=2.0)
    return (JailConfig(name="sshd", logpath=(), filter="fail2ban", maxretry=3, findtime=600,
                       bantime=3600, commands=(config,), firewall=False), out)


def _ban(key: str, count: int = 3) -> Ban:
    return Ban(key, "sshd", 1_700_000_000.0, 1_700_003_600.0, count=count)


def _calls(out: Path) -> list[list[object]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_a_python_action_is_started_banned_flushed_and_stopped(tmp_path: Path) -> None:
    jail, out = _jail(tmp_path)
    enforcer = CommandEnforcer(RecordingEnforcer(), [jail],
                               evidence=lambda ban: ())
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("192.0.2.8")),
                    Change("add", _ban("192.0.2.9"), restored=True)], 0)  # norestored
    assert enforcer.settle(10)
    enforcer.apply([Change("remove", _ban("192.0.2.8"))], 0)
    assert enforcer.settle(10)
    enforcer.apply([Change("add", _ban("2001:db8::7", count=5))], 0)
    assert enforcer.settle(10)
    enforcer.close()
    assert _calls(out) == [
        ["sshd", "start", 3600.0], ["sshd", "ban", "192.0.2.8", 3, "", 0],
        ["sshd", "unban", "192.0.2.8"], ["sshd", "ban", "2001:db8::7", 5, "", 0],
        ["sshd", "flush"], ["sshd", "stop"]]


def test_a_hanging_python_action_is_cut_short_and_the_next_ban_still_runs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    jail, out = _jail(tmp_path, slow="yes")
    enforcer = CommandEnforcer(RecordingEnforcer(), [jail])
    enforcer.setup([JailFirewall("sshd")])
    assert enforcer.settle(10)
    with caplog.at_level(logging.ERROR, logger="floodwall.enforcement"):
        enforcer.apply([Change("add", _ban("192.0.2.99"))], 0)  # sleeps 30 s in the action
        assert enforcer.settle(10)
        enforcer.apply([Change("add", _ban("192.0.2.10"))], 0)
        assert enforcer.settle(10)
    assert any("no answer within 2s" in r.getMessage() for r in caplog.records)
    calls = _calls(out)
    # the helper was started again, and started the action again, before the next ban
    assert calls[-2:] == [["sshd", "start", 3600.0], ["sshd", "ban", "192.0.2.10", 3, "", 0]]
    enforcer.close()


@pytest.mark.skipif(not Path("/etc/fail2ban/action.d/smtp.py").exists(),
                    reason="LOUD SKIP: Debian's fail2ban package (its smtp.py) is missing")
def test_debians_smtp_action_mails_the_start_and_the_ban(tmp_path: Path) -> None:
    from floodwall.config.fail2ban_jails import read_fail2ban
    from tests.support import fail2ban_dir

    (tmp_path / "auth.log").write_text("")
    with smtp_server() as (port, messages):
        directory = fail2ban_dir.copy_config(tmp_path / "fail2ban", (
            f"[sshd]\nenabled = true\nlogpath = {tmp_path}/auth.log\n"
            f"action = smtp.py[host=127.0.0.1:{port}, dest=ops@example.org]\n"))
        [sshd] = [jail for jail in read_fail2ban(directory).jails if jail.name == "sshd"]
        assert sshd.config is not None and dict(sshd.actions) == {
            "smtp": "python action (run by fail2ban's Python)"}
        enforcer = CommandEnforcer(RecordingEnforcer(), [sshd.config])
        enforcer.setup([JailFirewall("sshd")])
        assert enforcer.settle(10)
        enforcer.apply([Change("add", _ban("192.0.2.8"))], 0)
        assert enforcer.settle(10)
        enforcer.close()
    subjects = [next(line for line in message.splitlines() if line.startswith("Subject:"))
                for message in messages]
    assert subjects[0].startswith("Subject: [Fail2Ban] sshd: started on ")
    assert subjects[1].startswith("Subject: [Fail2Ban] sshd: banned 192.0.2.8 from ")
    assert "after 3 attempts against sshd" in messages[1]
    assert subjects[2].startswith("Subject: [Fail2Ban] sshd: stopped on ")
