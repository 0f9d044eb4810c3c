"""Memory per counted key: floodwall's windows against fail2ban's FailManager, same keys.

    python -m bench.memory [--keys N] [--max-keys N]

Each side runs in a fresh process: it measures its resident set, feeds one failing access
line for each of N distinct addresses (all inside their windows: maxretry 300 in 5 minutes,
the reference DoS rule), collects garbage and measures again; the difference over N is the
cost of one counted key. fail2ban's side is Debian's own package (`fail2ban.server`), run by
the system Python it is installed for. A second floodwall run with `--max-keys` shows the
limit holding the process flat, and which keys survive.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"
FAIL2BAN_PACKAGE = Path("/usr/lib/python3/dist-packages/fail2ban")

_COMMON = r'''
import gc, json, sys
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
def address(n):
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
def line(n):
    return (f'{address(n)} - - [04/Dec/2026:10:00:00 +0000] "GET /wp-login.php?{n} HTTP/1.1" '
            f'404 162 "-" "Mozilla/5.0 scanner"')
keys, limit = int(sys.argv[1]), int(sys.argv[2])
'''

_FLOODWALL = _COMMON + r'''
from floodwall.detection.windows import SlidingWindows
from floodwall.model import Failure
windows = SlidingWindows(300, 300.0, limit or None)
gc.collect(); before = rss()
for n in range(keys):
    text = line(n)
    windows.add(Failure("http-get-dos", address(n), 1764842400.0 + n / keys, "/var/log/a.log",
                        n + 1, text, {"method": "GET", "status": 404, "path": "/wp-login.php"}))
gc.collect(); after = rss()
print(json.dumps({"before": before, "after": after, "kept": len(windows),
                  "evicted": windows.evicted}))
'''

_FAIL2BAN = _COMMON + r'''
from fail2ban.server.failmanager import FailManager
from fail2ban.server.ticket import FailTicket
manager = FailManager(); manager.setMaxRetry(300)
gc.collect(); before = rss()
for n in range(keys):
    manager.addFailure(FailTicket(address(n), 1764842400.0 + n / keys, [line(n)]))
gc.collect(); after = rss()
print(json.dumps({"before": before, "after": after, "kept": manager.size(), "evicted": 0}))
'''


@dataclass(frozen=True, slots=True)
class KeyCost:
    """One side's memory for N counted keys."""

    tool: str
    """floodwall or fail2ban."""
    keys: int
    """Distinct addresses fed (one failure each)."""
    kept: int
    """Keys still counted at the end."""
    evicted: int
    """Keys dropped because of the key limit."""
    bytes_per_key: float
    """Resident set growth divided by the keys fed."""
    idle_mb: float
    """Resident set before the keys (the process with its code loaded)."""


def _run(tool: str, command: list[str], keys: int) -> KeyCost:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode:
        raise RuntimeError(f"{tool} memory run failed: {done.stderr.strip()[-400:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return KeyCost(tool, keys, figures["kept"], figures["evicted"],
                   (figures["after"] - figures["before"]) / keys, figures["before"] / 2**20)


def floodwall(keys: int, max_keys: int = 0) -> KeyCost:
    """floodwall's windows fed `keys` distinct addresses (with a key limit if given)."""
    return _run("floodwall" + (f" (max_keys {max_keys})" if max_keys else ""),
                [sys.executable, "-c", _FLOODWALL, str(keys), str(max_keys)], keys)


def fail2ban(keys: int) -> KeyCost | str:
    """fail2ban's FailManager fed the same addresses, or why it cannot run here."""
    if not FAIL2BAN_PACKAGE.is_dir():
        return "fail2ban is not installed (Debian package `fail2ban`)"
    return _run("fail2ban", [SYSTEM_PYTHON, "-c", _FAIL2BAN, str(keys), "0"], keys)


def run(keys: int, max_keys: int) -> dict[str, object]:
    """Both sides and the limited run; the figures as a JSON-ready dict."""
    ours = floodwall(keys)
    peer = fail2ban(keys)
    limited = floodwall(keys, max_keys)
    return {"floodwall": asdict(ours),
            "fail2ban": peer if isinstance(peer, str) else asdict(peer),
            "limited": asdict(limited),
            "ratio": (peer.bytes_per_key / ours.bytes_per_key
                      if not isinstance(peer, str) and ours.bytes_per_key > 0 else None)}


def describe(figures: dict[str, object]) -> str:
    """One paragraph for the table."""
    ours, peer, limited = figures["floodwall"], figures["fail2ban"], figures["limited"]
    assert isinstance(ours, dict) and isinstance(limited, dict)
    text = (f"memory: {ours['keys']:,} distinct addresses in their windows: floodwall "
            f"{ours['bytes_per_key']:.0f} bytes/key (idle process {ours['idle_mb']:.0f} MB)")
    if isinstance(peer, dict):
        text += (f", fail2ban's FailManager {peer['bytes_per_key']:.0f} bytes/key "
                 f"({figures['ratio']:.1f}x more)")
    else:
        text += f"; fail2ban unavailable: {peer}"
    return text + (f"; with max_keys {limited['kept']:,}: {limited['bytes_per_key']:.0f} "
                   f"bytes per key fed, {limited['evicted']:,} evicted")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--max-keys", type=int, default=100_000)
    args = parser.parse_args(argv)
    figures = run(args.keys, args.max_keys)
    print(json.dumps(figures, indent=1))
    print(describe(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
