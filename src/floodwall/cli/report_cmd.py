"""`floodwall report [--since 7d] [--html FILE]`: statistics over the ledger."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from floodwall.cli.common import add_config_option, config_from, print_json
from floodwall.errors import FloodwallError
from floodwall.matching.accesslog import request_reader
from floodwall.recon.enricher import build_enricher
from floodwall.reporting.html import render_html
from floodwall.reporting.stats import build_report
from floodwall.reporting.text import render_text
from floodwall.settings.durations import parse_duration
from floodwall.storage.database import Database


def register(subparsers: Any) -> None:
    """Add the report subcommand."""
    parser = subparsers.add_parser(
        "report", help="bans and failures over time, top jails/networks/countries/vhosts/paths",
        description="Statistics over the ban ledger; networks and countries come from the "
                    "recon cache and offline data (nothing is looked up on the network).")
    add_config_option(parser)
    parser.add_argument("--since", default="7d", help="period to report on (default 7d)")
    parser.add_argument("--html", default=None, metavar="FILE",
                        help="also write a self-contained HTML page with charts")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--audit", nargs="+", default=None, metavar="URL",
                        help="with --html: also audit these sites' security headers (GET "
                             "only) and add the graded results as a section")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    try:
        period = parse_duration(args.since)
    except ValueError as problem:
        raise FloodwallError(f"--since: {problem}") from None
    config = config_from(args)
    database = Database(config.database)
    try:
        enricher = build_enricher(config.recon, database, network=False)
        now = time.time()
        report = build_report(database, since=now - period, now=now, lookup=enricher.known,
                              requests=request_reader())
    finally:
        database.close()
    if args.json:
        print_json(report.to_json())
    else:
        print(render_text(report), end="")
    if args.html:
        try:
            Path(args.html).write_text(render_html(report, sections=_audit(args.audit)),
                                       encoding="utf-8")
        except OSError as problem:
            raise FloodwallError(f"{args.html}: cannot write the HTML report: "
                                 f"{problem.strerror}") from None
        if not args.json:
            print(f"wrote {args.html}")
    return 0


def _audit(urls: list[str] | None) -> list[str]:
    """The header-audit section for the HTML report, if sites were named."""
    if not urls:
        return []
    from floodwall.audit import FetchOptions, audit_sync, html_section, targets
    return [html_section(audit_sync(targets(urls), FetchOptions()))]
