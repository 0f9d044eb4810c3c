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
        f"missed {sorted(set(expected) - set(got))}, wrongly banned {sorted(set(got) - set(expected))}")
    assert len(bans) == len(got), "a key was banned twice while still banned"
    for key, ban in got.items():
        assert ban["time"] == expected[key].first_ban_time, key
    thresholds = {"http-get-dos": 301, "wordpress-bruteforce": 5, "sshd": 5}
    assert all(ban["failures"] == thresholds[ban["jail"]] for ban in bans)
    never = {a for actor in truth.actors if not actor.banned for a in actor.addresses}
    assert never and not never & {address for _, address in got}
