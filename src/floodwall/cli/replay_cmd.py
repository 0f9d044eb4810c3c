"""`floodwall replay`: old logs through the jails, printing the bans that would have happened."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any, Self

from floodwall.cli.common import (
    add_config_option,
    add_fail2ban_option,
    config_from,
    print_json,
    print_table,
    timestamp,
)
from floodwall.replay import ReplayBan, ReplayStats, replay
from floodwall.settings.durations import format_duration


def register(subparsers: Any) -> None:
    """Add the replay subcommand."""
    parser = subparsers.add_parser(
        "replay", help="feed old logs through the jails (offline) and print the bans")
    add_config_option(parser)
    add_fail2ban_option(parser)
    parser.add_argument("logs", nargs="*", metavar="LOG",
                        help="log files (plain or .gz); every jail reads every file. "
                             "Without LOG, each jail reads its own logpath globs")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per ban: jail, address, time, failures")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=_replay)


class _Progress:
    """A progress line on stderr, redrawn from a thread while the replay runs."""

    def __init__(self, stats: ReplayStats) -> None:
        self.stats = stats
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._draw, daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        sys.stderr.write("\r\033[K")

    def _draw(self) -> None:
        while not self._done.wait(0.25):
            total = max(self.stats.bytes_total, 1)
            share = min(self.stats.bytes_read / total, 1.0)
            bar = "#" * int(share * 30)
            rate = self.stats.lines / max(time.monotonic() - self._start, 1e-9)
            sys.stderr.write(f"\r[{bar:<30}] {share:6.1%} {self.stats.lines:,} lines "
                             f"{rate:,.0f} lines/s")
            sys.stderr.flush()


def _replay(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.logs:
        paths, explicit = list(args.logs), True
    else:
        import glob
        paths = sorted({path for jail in config.enabled_jails() for pattern in jail.logpath
                        for path in glob.glob(pattern)})
        explicit = False
        if not paths:
            print("floodwall: no log file matches the jails' logpath; give LOG files",
                  file=sys.stderr)
            return 1
    stats = ReplayStats()

    def emit(result: ReplayBan) -> None:
        if args.json:
            ban = result.ban
            print_json({"jail": ban.jail, "address": ban.key, "time": ban.start,
                        "failures": ban.count})
            sys.stdout.flush()

    show_progress = not args.no_progress and sys.stderr.isatty()
    started = time.monotonic()
    if show_progress:
        with _Progress(stats):
            bans = replay(config, paths, explicit=explicit, on_ban=emit, stats=stats)
    else:
        bans = replay(config, paths, explicit=explicit, on_ban=emit, stats=stats)
    elapsed = time.monotonic() - started
    if not args.json:
        print_table(["time", "jail", "address", "failures", "ban", "why"],
                    [[timestamp(b.start), b.jail, b.key, str(b.count),
                      format_duration(None if b.until is None else b.until - b.start), b.reason]
                     for b in (r.ban for r in bans)])
    print(f"{stats.lines:,} lines from {len(paths)} file(s) in {elapsed:.1f}s: "
          f"{len(bans)} ban(s)", file=sys.stderr)
    return 0
