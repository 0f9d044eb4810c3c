"""Restore after a reboot: N active bans back in the nftables set, timed from the start.

    python -m bench.restore [--bans N]

In a network namespace: `floodwall run` takes N active bans (imported through the control
socket, 10.0.0.0/8 addresses), is stopped, its nftables table is deleted (what a reboot
does), and it is started again. Measured: seconds from the second start to the daemon
reporting that it runs, with every ban checked in the set at that moment.
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

from bench.daemon import (
    CONFIG,
    TABLE,
    THRESHOLD,
    _preload,
    _set_members,
    start_daemon,
    stop_daemon,
)
from tests.support.netns import network, skip_reason

TARGET_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Restore:
    """What one restore measured."""

    bans: int
    """Active bans in the ledger before the restart."""
    seconds: float
    """From the second start to 'floodwall running', every ban then enforced."""
    in_set: int
    """Of those bans, how many were in the nftables set at that moment."""


def run(bans: int = 100_000) -> Restore:
    """Ban, stop, delete the table, start again; RuntimeError if namespaces cannot be made."""
    reason = skip_reason(("ip", "nft"))
    if reason is not None:
        raise RuntimeError(reason)
    root = Path(tempfile.mkdtemp(prefix="floodwall-restore-"))
    try:
        (root / "www" / "site.example" / "logs").mkdir(parents=True)
        (root / "www" / "site.example" / "logs" / "access.log").touch()
        config = root / "floodwall.toml"
        config.write_text(CONFIG.format(root=root, table=TABLE, threshold=THRESHOLD))
        with network(1) as (namespace,):
            process = start_daemon(namespace, config, root / "first.log")
            keys = _preload(str(root / "control.sock"), bans)
            stop_daemon(process)
            namespace.run(["nft", "delete", "table", "inet", TABLE])
            began = time.monotonic()
            process = start_daemon(namespace, config, root / "second.log", timeout=120,
                                   interval=0.01)
            took = time.monotonic() - began
            in_set = len(keys & _set_members(namespace))
            stop_daemon(process)
        return Restore(bans, round(took, 3), in_set)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def describe(restore: Restore) -> str:
    """One line for the table."""
    return (f"restore: {restore.bans:,} active bans, nftables table deleted, restart -> "
            f"running in {restore.seconds:.2f} s with {restore.in_set:,} in the set "
            f"(target {TARGET_SECONDS:.0f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.restore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bans", type=int, default=100_000)
    args = parser.parse_args(argv)
    restore = run(args.bans)
    print(json.dumps(asdict(restore)))
    print(describe(restore))
    return 0


if __name__ == "__main__":
    sys.exit(main())
