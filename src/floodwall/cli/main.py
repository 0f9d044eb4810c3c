"""The `floodwall` command: parses arguments and hands each subcommand to its module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from floodwall import __version__
from floodwall.errors import FloodwallError

# Each module has `register(subparsers) -> None`, which adds its subcommand(s) and sets
# `func(args) -> int` as the parser default.
COMMAND_MODULES: tuple[str, ...] = (
    "floodwall.cli.daemon_cmds",
    "floodwall.cli.control_cmds",
    "floodwall.cli.replay_cmd",
    "floodwall.cli.why_cmd",
    "floodwall.cli.transfer_cmds",
    "floodwall.cli.audit_cmd",
    "floodwall.cli.cluster_cmds",
    "floodwall.cli.regex_cmd",
    "floodwall.cli.recon_cmd",
    "floodwall.cli.report_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="floodwall",
        description="Log-driven intrusion prevention: detect and ban abusive sources.",
    )
    parser.add_argument("--version", action="version", version=f"floodwall {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except FloodwallError as error:
        print(f"floodwall: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
