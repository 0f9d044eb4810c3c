"""A replay of logs bans exactly as the daemon that read the same lines as they came: the
same keys, jails, starts and ends, with escalation, recidive and prefix aggregation on."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.clock import ManualClock
from floodwall.config.loader import parse_config
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.model import SourceLine
from floodwall.replay import _halves, replay
from floodwall.server.daemon import Daemon
from floodwall.settings.values import Config
from tests.support.lines import access_line

T0 = 1_800_000_000.0
CONFIG = """
[floodwall]
state_dir = "{root}/state"
socket = "{root}/control.sock"
backend = "dry-run"
protect_ssh_sessions = false

[defaults]
maxretry = 3
findtime = "10m"
bantime = "10m"
escalation = {{ increment = true }}

[recidive]
maxretry = 3
findtime = "1d"
bantime = "1w"

[aggregate]
count = 3
within = "1h"

[jails.web]
logpath = ["{root}/web.log"]
methods = ["GET"]
status = [404]

[jails.login]
logpath = ["{root}/login.log"]
methods = ["POST"]
path = '/wp-login\\.php$'
"""

Line = tuple[float, str, str]
"""(time, log file name, line text)."""


def _scanning(client: str, at: float) -> list[Line]:
    return [(at + n, "web.log", access_line(client, f"/probe{n}", when=at + n))
            for n in range(3)]


def _guessing(client: str, at: float) -> list[Line]:
    return [(at + n, "login.log", access_line(client, "/wp-login.php", method="POST",
                                              status=200, when=at + n)) for n in range(3)]


def _story() -> list[Line]:
    """Three scanners of one /24 (banned, then the prefix instead); a fourth of it already
    inside the prefix ban; a password guesser back after each ban (longer each time, then
    recidive), trying once more while banned."""
    lines = [*_scanning("203.0.113.1", T0), *_scanning("203.0.113.2", T0 + 10),
             *_scanning("203.0.113.3", T0 + 20), *_scanning("203.0.113.9", T0 + 60)]
    for at in (T0 + 100, T0 + 400, T0 + 1000, T0 + 3000):
        lines += _guessing("198.51.100.7", at)
    return sorted(lines)


def _config(root: Path) -> Config:
    return parse_config(CONFIG.format(root=root), str(root / "floodwall.toml"))


def _daemon_bans(root: Path, lines: list[Line]) -> list[tuple[str, str, float, float | None]]:
    """The bans of a daemon reading the lines as they are written, its clock at each."""
    clock = ManualClock(T0)
    daemon = Daemon(_config(root), clock=clock, enforcer=RecordingEnforcer())
    daemon.bans.rebuild_firewall()
    bans = []
    try:
        for lineno, (when, name, text) in enumerate(lines, start=1):
            clock.set(when)
            daemon.tick()
            bans += daemon.process([SourceLine(str(root / name), lineno, text.rstrip("\n"))])
    finally:
        daemon.database.close()
    return sorted((ban.key, ban.jail, ban.start, ban.until) for ban in bans)


def _replay_bans(root: Path, lines: list[Line], workers: int
                 ) -> list[tuple[str, str, float, float | None]]:
    for name in ("web.log", "login.log"):
        (root / name).write_text("".join(text for _, file, text in lines if file == name))
    config = _config(root)
    paths = [str(root / "web.log"), str(root / "login.log")]
    assert workers == 1 or _halves(config, paths, explicit=False) is not None
    results = replay(config, paths, explicit=False, workers=workers)
    return sorted((r.ban.key, r.ban.jail, r.ban.start, r.ban.until) for r in results)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_replay_bans_as_the_daemon_did(tmp_path: Path, workers: int) -> None:
    lines = _story()
    (tmp_path / "daemon").mkdir()
    (tmp_path / "replay").mkdir()
    daemon = _daemon_bans(tmp_path / "daemon", lines)
    minutes = 60.0
    guesser = [(start, until) for key, jail, start, until in daemon
               if key == "198.51.100.7" and jail == "login"]
    assert [(until - start) / minutes for start, until in guesser if until] == [10, 20, 40]
    assert ("198.51.100.7", "recidive", T0 + 3002, T0 + 3002 + 7 * 86400) in daemon
    assert ("203.0.113.0/24", "web", T0 + 22, T0 + 22 + 10 * minutes) in daemon
    assert not any(key == "203.0.113.9" for key, *_ in daemon)
    assert _replay_bans(tmp_path / "replay", lines, workers) == daemon
