"""`floodwall export`, `import` and `import-fail2ban`: bans out to files and in from them."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from floodwall.bans.fail2ban_import import read_fail2ban
from floodwall.bans.transfer import (
    Entry,
    exported,
    parse_json,
    parse_list,
    render_json,
    render_list,
    stored_record,
)
from floodwall.cli.common import add_config_option, config_from, err
from floodwall.errors import ImportFileError
from floodwall.server.imports import check_import_jail, deliver
from floodwall.settings.durations import parse_bantime
from floodwall.settings.values import Config
from floodwall.storage.database import Database

DEFAULT_IMPORT_JAIL = "manual"
DEFAULT_IMPORT_BANTIME = "1h"


def register(subparsers: Any) -> None:
    """Add the export, import and import-fail2ban subcommands."""
    export = subparsers.add_parser("export", help="write bans as JSON lines or an address list")
    add_config_option(export)
    export.add_argument("--format", choices=("json", "list"), default="json",
                        help="json: one object per ban (default); list: one address per line")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--active", dest="all", action="store_false",
                       help="only bans in force (default)")
    which.add_argument("--all", dest="all", action="store_true",
                       help="every ban the ledger keeps, past ones too (json only)")
    export.set_defaults(func=_export, all=False)

    imp = subparsers.add_parser("import", help="ban what a JSON export or an address list holds")
    add_config_option(imp)
    imp.add_argument("file", help="file to read ('-' for standard input)")
    imp.add_argument("--format", choices=("json", "list"), default="json",
                     help="json: as `floodwall export` writes (default); list: one address or "
                          "CIDR prefix per line, '#' comments")
    imp.add_argument("--jail", default=None,
                     help=f"list only: jail whose ports apply (default {DEFAULT_IMPORT_JAIL}: "
                          "all ports)")
    imp.add_argument("--bantime", default=None,
                     help=f"list only: e.g. 1h, 1d, -1 for permanent "
                          f"(default {DEFAULT_IMPORT_BANTIME})")
    imp.set_defaults(func=_import)

    f2b = subparsers.add_parser("import-fail2ban",
                                help="take over fail2ban's active bans and ban history")
    add_config_option(f2b)
    f2b.add_argument("database", help="fail2ban's dbfile, e.g. /var/lib/fail2ban/fail2ban.sqlite3")
    f2b.set_defaults(func=_import_fail2ban)


def _export(args: argparse.Namespace) -> int:
    if args.all and args.format == "list":
        err("floodwall export: --format list holds the addresses banned now; use --format json "
            "with --all")
        return 2
    database = Database(config_from(args).database)
    try:
        bans = exported(database, args.all, time.time())
    finally:
        database.close()
    if args.format == "list":
        sys.stdout.write(render_list(stored.ban for stored in bans))
    else:
        sys.stdout.write(render_json(stored_record(stored) for stored in bans))
    return 0


def _import(args: argparse.Namespace) -> int:
    config = config_from(args)
    name = "<stdin>" if args.file == "-" else args.file
    text = _read(args.file, name)
    now = time.time()
    if args.format == "json":
        if args.jail is not None or args.bantime is not None:
            err("floodwall import: --jail and --bantime apply to --format list; a JSON export "
                "carries each ban's own jail and times")
            return 2
        entries = parse_json(text, name)
    else:
        jail = args.jail or DEFAULT_IMPORT_JAIL
        check_import_jail(config, jail)
        try:
            bantime = parse_bantime(args.bantime or DEFAULT_IMPORT_BANTIME)
        except ValueError as problem:
            raise ImportFileError(f"--bantime: {problem}") from None
        entries = parse_list(text, name, jail, bantime, now)
    _deliver(config, entries, now)
    return 0


def _import_fail2ban(args: argparse.Namespace) -> int:
    config = config_from(args)
    found = read_fail2ban(args.database)
    if found.skipped:
        err(f"skipped {len(found.skipped)} banned ID(s) that are not IP addresses: "
            f"{', '.join(found.skipped[:10])}")
    _deliver(config, found.entries, time.time())
    return 0


def _deliver(config: Config, entries: Sequence[Entry], now: float) -> None:
    intake, by_daemon = deliver(config, entries, now)
    where = ("through the running daemon (enforced now)" if by_daemon else
             "into the ledger database (enforced when floodwall starts)")
    print(f"{intake.summary()}; {where}")


def _read(path: str, name: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as problem:
        raise ImportFileError(f"{name}: cannot read: {problem.strerror}") from None
    except UnicodeDecodeError as problem:
        raise ImportFileError(f"{name}: not UTF-8 text ({problem.reason} at byte "
                              f"{problem.start})") from None
