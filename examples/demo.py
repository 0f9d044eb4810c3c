"""`make demo`: generate an attack log, replay it through the reference jails, show the bans.

As root with `nft` available, the bans are then enforced for real in nftables inside a
throwaway network namespace, and the resulting table is shown.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.traffic import generate
from floodwall.config.loader import load_config
from floodwall.replay import replay
from floodwall.settings.durations import format_duration

OUT = ROOT / "demo-out"
LINES = 150_000
VHOSTS = 300


def _heading(text: str) -> None:
    print(f"\n== {text} ==")


def main() -> int:
    started = time.monotonic()
    _heading(f"1. generating {LINES:,} log lines over {VHOSTS} vhosts and an ssh auth.log")
    shutil.rmtree(OUT, ignore_errors=True)
    truth = generate(OUT, lines=LINES, vhosts=VHOSTS, fmt="hoster")
    logs = sorted(str(p) for p in (OUT / "www").glob("*/logs/access.log")) + [
        str(OUT / "auth.log")]
    print(f"   {len(logs)} files in {OUT.relative_to(ROOT)}/, "
          f"{len(truth.actors)} actors (legit visitors, scanners, brute forcers, crawler...)")

    _heading("2. replaying them through examples/floodwall.toml (the logs' own clock)")
    config = load_config(ROOT / "examples" / "floodwall.toml")
    replay_started = time.monotonic()
    bans = replay(config, logs)
    elapsed = time.monotonic() - replay_started
    actor_of = {a: actor.actor for actor in truth.actors for a in actor.addresses}
    for result in bans:
        ban, decision = result.ban, result.decision
        when = time.strftime("%H:%M:%S", time.gmtime(decision.time))
        first, last = decision.failures[0], decision.failures[-1]
        sites = len({f.path for f in decision.failures})
        print(f"   {when} UTC  {ban.jail:<21} {ban.key:<16} "
              f"banned {format_duration(None if ban.until is None else ban.until - ban.start)}"
              f"  ({actor_of.get(ban.key, '?')})")
        print(f"            why: {decision.reason}; {sites} file(s), "
              f"first {_where(first.path)}:{first.lineno}, last {_where(last.path)}:{last.lineno}")
    print(f"   {len(bans)} bans from {truth.lines:,} lines in {elapsed:.1f}s")

    _heading("3. checking against the generator's ground truth")
    got = {(r.ban.jail, r.ban.key) for r in bans}
    expected = {(b.jail, b.address) for b in truth.bans}
    for actor in truth.actors:
        mark = "banned" if actor.banned else "left alone"
        print(f"   {actor.actor:<28} {mark:<10} {actor.why}")
    if got != expected:
        print(f"   MISMATCH: missed {sorted(expected - got)}, "
              f"wrongly banned {sorted(got - expected)}")
        return 1
    print(f"   all {len(expected)} expected bans made, no legitimate source banned")

    _heading("4. enforcing the bans in nftables")
    _enforce(config, [r.ban for r in bans])
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s")
    return 0


def _where(path: str) -> str:
    """A short name for a log file: its vhost, or its own name."""
    parts = Path(path).parts
    return parts[-3] if "www" in parts else parts[-1]


def _enforce(config: object, bans: list) -> None:  # type: ignore[type-arg]
    nft = shutil.which("nft", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if os.geteuid() != 0 or nft is None or shutil.which("ip") is None:
        print("   skipped: needs root, nft and ip (sudo make demo, apt-get install nftables)")
        return
    from dataclasses import replace

    from floodwall.enforcement.base import JailFirewall
    from floodwall.enforcement.nftables import NftablesEnforcer
    from floodwall.model import Change

    namespace = f"fwdemo{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        enforcer = NftablesEnforcer(command=("ip", "netns", "exec", namespace, nft))
        jails = config.enabled_jails()  # type: ignore[attr-defined]
        enforcer.setup([JailFirewall(j.name, j.ports, j.protocol) for j in jails])
        now = time.time()
        # Replayed bans started in the past: shift them to start now, as a live daemon would.
        enforcer.apply([Change("add", replace(b, start=now, until=None if b.until is None
                                              else now + (b.until - b.start))) for b in bans],
                       now)
        print(f"   in throwaway network namespace {namespace}:\n")
        listing = subprocess.run(["ip", "netns", "exec", namespace, nft, "list", "table",
                                  "inet", "floodwall"], capture_output=True, text=True, check=True)
        print("\n".join("   " + line for line in listing.stdout.splitlines()))
    finally:
        subprocess.run(["ip", "netns", "delete", namespace], check=False)


if __name__ == "__main__":
    raise SystemExit(main())
