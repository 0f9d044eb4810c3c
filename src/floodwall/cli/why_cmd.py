"""`floodwall why ADDRESS`: every ban of an address, its rule, step and the lines that caused it."""

from __future__ import annotations

import argparse
from typing import Any

from floodwall.addresses import normalise_address
from floodwall.cli.common import add_config_option, config_from, print_json, timestamp
from floodwall.settings.durations import format_duration
from floodwall.storage.database import Database
from floodwall.terminal import printable


def register(subparsers: Any) -> None:
    """Add the why subcommand."""
    parser = subparsers.add_parser("why", help="show every ban of an address and its evidence")
    add_config_option(parser)
    parser.add_argument("address", help="IPv4/IPv6 address or banned prefix")
    parser.add_argument("--lines", type=int, default=20, metavar="N",
                        help="evidence lines shown per ban (default 20; 0 = all)")
    parser.add_argument("--json", action="store_true", help="one JSON object per ban")
    parser.set_defaults(func=_why)


def _why(args: argparse.Namespace) -> int:
    key = normalise_address(args.address) or args.address
    database = Database(config_from(args).database)
    try:
        stored = database.bans_of(key)
        if not stored:
            print(f"{printable(key)} was never banned (or its bans ended longer ago than "
                  "[floodwall] history)")
            return 1
        for number, item in enumerate(stored, start=1):
            ban = item.ban
            evidence = database.evidence(item.id)
            if args.json:
                print_json({"address": ban.key, "jail": ban.jail, "start": ban.start,
                            "until": ban.until, "ended": item.ended,
                            "end_reason": item.end_reason, "failures": ban.count,
                            "origin": ban.origin, "reason": ban.reason, "step": ban.step,
                            "evidence": [{"time": e.time, "path": e.path, "lineno": e.lineno,
                                          "line": e.line} for e in evidence]})
                continue
            length = None if ban.until is None else ban.until - ban.start
            state = ("active" if item.ended is None else
                     f"ended {timestamp(item.ended)} ({item.end_reason})")
            print(printable(f"ban {number} of {len(stored)}: {ban.key} in jail {ban.jail}, "
                            f"{timestamp(ban.start)} for {format_duration(length)}, {state}"))
            print(f"  rule:  {printable(ban.reason)}")
            step = "first offence" if ban.step == 0 else f"{ban.step} earlier ban(s)"
            print(f"  step:  {step}; origin {printable(ban.origin)}; {ban.count} failure(s)")
            shown = evidence if args.lines == 0 else evidence[-args.lines:]
            if len(shown) < len(evidence):
                print(f"  lines: last {len(shown)} of {len(evidence)}")
            for line in shown:
                print(f"    {printable(line.path)}:{line.lineno}: {printable(line.line)}")
    finally:
        database.close()
    return 0



