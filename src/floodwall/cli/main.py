"""The `floodwall` command: parses arguments and hands each subcommand to its module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from floodwall import __version__
from floodwall.errors import FloodwallError

# Each module has `register(subparsers) -> None`, which adds its subcommand(s) and sets
# `func(args) -> int` as the parser default. Only the module of the command being run is
# imported (some pull in DNS, HTTP or Redis clients); `--help` imports them all.
COMMANDS: dict[str, str] = {
    "run": "floodwall.cli.daemon_cmds",
    "check-config": "floodwall.cli.daemon_cmds",
    "status": "floodwall.cli.control_cmds",
    "bans": "floodwall.cli.control_cmds",
    "ban": "floodwall.cli.control_cmds",
    "unban": "floodwall.cli.control_cmds",
    "reload": "floodwall.cli.control_cmds",
    "replay": "floodwall.cli.replay_cmd",
    "why": "floodwall.cli.why_cmd",
    "export": "floodwall.cli.transfer_cmds",
    "import": "floodwall.cli.transfer_cmds",
    "import-fail2ban": "floodwall.cli.transfer_cmds",
    "audit": "floodwall.cli.audit_cmd",
    "origin-rules": "floodwall.cli.cluster_cmds",
    "regex": "floodwall.cli.regex_cmd",
    "recon": "floodwall.cli.recon_cmd",
    "report": "floodwall.cli.report_cmd",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: with `command`, only its module's subcommands; else all."""
    parser = argparse.ArgumentParser(
        prog="floodwall",
        description="Log-driven intrusion prevention: detect and ban abusive sources.",
    )
    parser.add_argument("--version", action="version", version=f"floodwall {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = [COMMANDS[command]] if command in COMMANDS else COMMANDS.values()
    for name in dict.fromkeys(wanted):
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments[0] if arguments else None)
    args = parser.parse_args(arguments)
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
