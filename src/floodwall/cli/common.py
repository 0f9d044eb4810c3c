"""Bits shared by the command modules: the --config option and output helpers."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from floodwall.config.loader import load_config
from floodwall.settings.values import Config
from floodwall.terminal import printable

DEFAULT_CONFIG = "/etc/floodwall/floodwall.toml"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add --config FILE."""
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"floodwall.toml to use (default {DEFAULT_CONFIG})")


def add_fail2ban_option(parser: argparse.ArgumentParser) -> None:
    """Add --fail2ban-config DIR."""
    parser.add_argument("--fail2ban-config", metavar="DIR",
                        help="also run the enabled jails of this fail2ban configuration "
                             "directory (e.g. /etc/fail2ban); overrides [fail2ban] config_dir")


def config_from(args: argparse.Namespace) -> Config:
    """Load the configuration named by --config (and --fail2ban-config, where offered)."""
    return load_config(args.config, getattr(args, "fail2ban_config", None))


def print_json(value: Any) -> None:
    """One JSON document on its own line."""
    print(json.dumps(value, sort_keys=True))


def timestamp(seconds: float | None) -> str:
    """Local time text for a unix time ('-' for none)."""
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M:%S%z")


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A plain aligned table on stdout, control characters in cells escaped."""
    shown = [[printable(str(cell)) for cell in row] for row in [headers, *rows]]
    widths = [max(len(cell) for cell in column) for column in zip(*shown, strict=False)]
    for row in shown:
        cells = zip(row, widths, strict=False)
        print("  ".join(cell.ljust(width) for cell, width in cells).rstrip())


def err(message: str) -> None:
    """A message for the operator on stderr."""
    print(message, file=sys.stderr)
