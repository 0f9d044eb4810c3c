"""Idle cost: the daemon following 1,000 log files that nobody writes to.

    python -m bench.idle [--files N] [--seconds S]

In a network namespace (nftables backend), `floodwall run` follows N vhost access logs; once
it runs, its CPU time (user + system, with its nft children) is read over S quiet seconds.
The figure is the share of one core it used.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.daemon import CONFIG, TABLE, THRESHOLD, _cpu_seconds, start_daemon, stop_daemon
from tests.support.netns import network, skip_reason

TARGET_CORE_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class Idle:
    """What one idle run measured."""

    files: int
    """Log files followed."""
    seconds: float
    """How long the quiet period lasted."""
    cpu_seconds: float
    """CPU the daemon used in it."""

    @property
    def core_share(self) -> float:
        """Share of one core used while idle."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0


def run(files: int = 1_000, seconds: float = 20.0) -> Idle:
    """Start the daemon over `files` quiet logs and read its CPU; RuntimeError if namespaces
    cannot be made here."""
    reason = skip_reason(("ip", "nft"))
    if reason is not None:
        raise RuntimeError(reason)
    root = Path(tempfile.mkdtemp(prefix="floodwall-idle-"))
    try:
        for index in range(files):
            folder = root / "www" / f"site{index:04d}.example" / "logs"
            folder.mkdir(parents=True)
            (folder / "access.log").touch()
        config = root / "floodwall.toml"
        config.write_text(CONFIG.format(root=root, table=TABLE, threshold=THRESHOLD))
        log = root / "daemon.log"
        with network(1) as (namespace,):
            process = start_daemon(namespace, config, log)
            if f"{files} file(s)" not in log.read_text():
                raise RuntimeError(f"the daemon does not follow all {files} files: "
                                   f"{log.read_text()[-400:]}")
            before, began = _cpu_seconds(process.pid), time.monotonic()
            time.sleep(seconds)  # the measurement itself: a quiet period of known length
            cpu, took = _cpu_seconds(process.pid) - before, time.monotonic() - began
            stop_daemon(process)
        return Idle(files, round(took, 2), round(cpu, 3))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def describe(idle: Idle) -> str:
    """One line for the table."""
    return (f"idle: {idle.files:,} followed files, no traffic for {idle.seconds:.0f} s: "
            f"{idle.cpu_seconds:.2f} CPU s = {100 * idle.core_share:.2f}% of a core "
            f"(target < {100 * TARGET_CORE_SHARE:.0f}%)")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    idle = run(args.files, args.seconds)
    print(json.dumps({**asdict(idle), "core_share": idle.core_share}))
    print(describe(idle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
