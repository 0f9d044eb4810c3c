"""Replay of the generated corpus through the reference jails equals the ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.traffic import generate

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("fmt", ["hoster", "combined"])
def test_replay_bans_exactly_the_ground_truth(tmp_path: Path, fmt: str) -> None:
    truth = generate(tmp_path, lines=80_000, vhosts=300, fmt=fmt, seed=7)
    logs = sorted(str(p) for p in tmp_path.glob("www/*/logs/access.log"))
    assert len(logs) == 300
    result = subprocess.run(
        [sys.executable, "-m", "floodwall", "replay", "--config",
         str(ROOT / "examples" / "floodwall.toml"), "--json", *logs,
         str(tmp_path / "auth.log")],
        capture_output=True, text=True, timeout=300, check=True)
    bans = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(ban) == {"jail", "address", "time", "failures"} for ban in bans)
    got = {(ban["jail"], ban["address"]): ban for ban in bans}
    expected = {(b.jail, b.address): b for b in truth.bans}
    assert set(got) == set(expected), (
        f"missed {sorted(set(expected) - set(got))}, "
        f"wrongly banned {sorted(set(got) - set(expected))}")
    assert len(bans) == len(got), "a key was banned twice while still banned"
    for key, ban in got.items():
        assert ban["time"] == expected[key].first_ban_time, key
    thresholds = {"http-get-dos": 301, "wordpress-bruteforce": 5, "sshd": 5}
    assert all(ban["failures"] == thresholds[ban["jail"]] for ban in bans)
    never = {a for actor in truth.actors if not actor.banned for a in actor.addresses}
    assert never and not never & {address for _, address in got}


def test_two_workers_give_the_same_bans_as_one(tmp_path: Path) -> None:
    from floodwall.config.loader import load_config
    from floodwall.replay import ReplayStats, _halves, replay

    generate(tmp_path, lines=60_000, vhosts=50, fmt="hoster", seed=3)
    logs = sorted(str(p) for p in tmp_path.glob("www/*/logs/access.log")) + [
        str(tmp_path / "auth.log")]
    config = load_config(ROOT / "examples" / "floodwall.toml")
    halves = _halves(config, logs, explicit=True)
    assert halves is not None and sorted((len(files), jails) for files, jails in halves) == [
        (1, ("sshd",)), (50, ("http-get-dos", "wordpress-bruteforce"))]
    alone, split = ReplayStats(), ReplayStats()
    one = replay(config, logs, workers=1, stats=alone)
    two = replay(config, logs, workers=2, stats=split)

    def key(result: object) -> tuple[object, ...]:
        ban, decision = result.ban, result.decision  # type: ignore[attr-defined]
        return (ban.jail, ban.key, decision.time, len(decision.failures),
                tuple((f.path, f.lineno) for f in decision.failures))

    assert sorted(map(key, one)) == sorted(map(key, two)) and len(one) >= 5
    assert alone.lines == split.lines == 60_000
    assert alone.bytes_read == split.bytes_read == alone.bytes_total


def test_jails_own_logpaths_split_into_workers_with_the_same_bans(tmp_path: Path) -> None:
    from floodwall.config.loader import parse_config
    from floodwall.replay import _halves, replay

    generate(tmp_path, lines=60_000, vhosts=40, fmt="combined", seed=5)
    text = (ROOT / "examples" / "floodwall.toml").read_text()
    text = text.replace("/var/www/*/logs/access.log", f"{tmp_path}/www/*/logs/access.log")
    text = text.replace("/var/log/auth.log", f"{tmp_path}/auth.log")
    config = parse_config(text, str(tmp_path / "floodwall.toml"))
    logs = sorted(str(p) for p in tmp_path.glob("www/*/logs/access.log")) + [
        str(tmp_path / "auth.log")]
    halves = _halves(config, logs, explicit=False)
    assert halves is not None
    assert sorted(jails for _, jails in halves) == [
        ("http-get-dos", "wordpress-bruteforce"), ("sshd",)]
    one = replay(config, logs, explicit=False, workers=1)
    two = replay(config, logs, explicit=False, workers=2)
    assert [(r.ban.jail, r.ban.key, r.decision.time) for r in two] == sorted(
        ((r.ban.jail, r.ban.key, r.decision.time) for r in one), key=lambda b: (b[2], b[0], b[1]))
    assert len(one) >= 5


def test_fail2ban_jails_over_one_log_split_into_workers_with_the_same_bans(
        tmp_path: Path) -> None:
    from floodwall.config.loader import load_config
    from floodwall.replay import ReplayStats, _halves, replay
    from tests.support import fail2ban_dir

    reason = fail2ban_dir.skip_reason()
    if reason is not None:
        pytest.skip(f"LOUD SKIP: {reason}")
    generate(tmp_path, lines=60_000, vhosts=2, fmt="hoster", seed=11, ssh_lines=40_000)
    fail2ban_dir.copy_config(tmp_path / "fail2ban", f"""
[sshd]
enabled = true
logpath = {tmp_path}/auth.log
[sshd-aggressive]
enabled = true
filter = sshd[mode=aggressive]
logpath = {tmp_path}/auth.log
maxretry = 3
""")
    config = load_config(fail2ban_dir.floodwall_toml(tmp_path))
    logs = [str(tmp_path / "auth.log")]
    halves = _halves(config, logs, explicit=True)
    assert halves is not None and sorted(jails for _, jails in halves) == [
        ("sshd",), ("sshd-aggressive",)]
    alone, split = ReplayStats(), ReplayStats()
    one = replay(config, logs, workers=1, stats=alone)
    two = replay(config, logs, workers=2, stats=split)
    assert [(r.ban.jail, r.ban.key, r.decision.time) for r in two] == sorted(
        ((r.ban.jail, r.ban.key, r.decision.time) for r in one), key=lambda b: (b[2], b[0], b[1]))
    assert {r.ban.jail for r in one} == {"sshd", "sshd-aggressive"}
    assert alone.lines == split.lines == 40_000
