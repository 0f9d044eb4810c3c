"""`floodwall regex`: test a fail2ban filter against a log file or a single line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from floodwall.clock import ManualClock
from floodwall.config.fail2ban_filters import load_filter
from floodwall.errors import ConfigError
from floodwall.matching.fail2ban import Fail2banFilter, FilterFailure
from floodwall.matching.fail2ban.logrun import count_log, feed_buffers, log_failures

DEFAULT_FAIL2BAN_DIR = "/etc/fail2ban"


def register(subparsers: Any) -> None:
    """Add the regex subcommand."""
    parser = subparsers.add_parser(
        "regex", help="run a fail2ban filter over a log (like fail2ban-regex)",
        description="Run a fail2ban filter over a log file (or one line) and report what it "
                    "matches: a summary by default, one JSON object per failure with --json.")
    parser.add_argument("log", metavar="LOG", help="log file, or a single log line")
    parser.add_argument("filter", metavar="FILTER",
                        help="filter file path, or a filter name looked up in "
                             "CONFIG_DIR/filter.d/NAME.conf")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per failure on stdout (lineno, host, time, "
                             "attempts, fields)")
    parser.add_argument("--now", type=float, metavar="EPOCH",
                        help="unix time taken as 'now' (completes dates without a year; "
                             "default: when the run starts)")
    parser.add_argument("--filter-options", type=_options, default={}, metavar="JSON",
                        help='filter arguments as a JSON object, e.g. \'{"mode": "aggressive"}\'')
    parser.add_argument("--config-dir", default=DEFAULT_FAIL2BAN_DIR, metavar="DIR",
                        help=f"fail2ban configuration folder for filter names "
                             f"(default {DEFAULT_FAIL2BAN_DIR})")
    parser.add_argument("--workers", type=_workers, default=None, metavar="N",
                        help="processes for a large log of a single-line filter "
                             "(default: one per CPU; 1: this process only)")
    parser.add_argument("--print-all-matched", action="store_true",
                        help="after the summary, the log lines of every failure")
    parser.add_argument("--no-check-all", dest="check_all", action="store_false",
                        help="stop each line at its first matching failregex, as fail2ban's "
                             "server and floodwall's jails do (default: try every failregex, "
                             "as fail2ban-regex does)")
    parser.set_defaults(func=_regex)


def _options(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object like {"mode": "aggressive"}')
    return {str(key): str(val) for key, val in value.items()}


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes >= 1, not {text!r}")
    return value


def _filter_path(name: str, config_dir: str) -> str:
    if os.path.exists(name) or os.sep in name:
        return name
    candidate = os.path.join(config_dir, "filter.d", name + ".conf")
    if not os.path.exists(candidate):
        raise ConfigError(f"no filter file {name!r} and no {candidate}; give a path or a "
                          f"name from {config_dir}/filter.d")
    return candidate


def _failures(engine: Fail2banFilter, log: str, workers: int | None) -> Iterator[FilterFailure]:
    """Every failure of the log file (or of the argument itself as one line), in line order."""
    if os.path.isfile(log):
        return log_failures(engine, log, workers)
    return feed_buffers(engine, iter([log.encode("utf-8", "surrogateescape") + b"\n"]))


def _regex(args: argparse.Namespace) -> int:
    # One "now" for the whole run: dates without a year complete the same way on every line.
    clock = ManualClock(args.now if args.now is not None else time.time())
    path = _filter_path(args.filter, args.config_dir)
    engine = Fail2banFilter(load_filter(path, args.filter_options), clock=clock,
                            check_all=args.check_all)
    engine.keep_lines = args.print_all_matched and not args.json
    started = time.perf_counter()
    if args.json:
        write = sys.stdout.write
        for failure in _failures(engine, args.log, args.workers):
            write(json.dumps(failure.to_json(), default=str) + "\n")
        return 0
    matched: list[str] = []
    if args.print_all_matched or not os.path.isfile(args.log):
        for failure in _failures(engine, args.log, args.workers):
            matched.extend(failure.lines)
    else:
        count_log(engine, args.log, args.workers)
    _print_report(engine, path, args, time.perf_counter() - started)
    if args.print_all_matched:
        print(f"Matched line(s): {len(matched)}")
        for line in matched:
            print(f"  {line}")
    return 0


def _print_report(engine: Fail2banFilter, path: str, args: argparse.Namespace,
                  seconds: float) -> None:
    stats = engine.stats
    definition = engine.definition
    options = f" {json.dumps(args.filter_options)}" if args.filter_options else ""
    print(f"Filter   {path}{options}{'  (journal mode)' if engine.journal else ''}")
    print(f"Log      {args.log if os.path.isfile(args.log) else '(one line given)'}")
    print(f"Lines    {stats.lines} read, {stats.matched} matched, "
          f"{stats.lines - stats.matched} missed, {stats.ignored} ignored")
    if definition.prefregex:
        print(f"Prefregex  {definition.prefregex}")
    print(f"Failregex  {len(engine.failregexes)}, maxlines {definition.maxlines}")
    failregexes = zip(engine.failregexes, stats.failregex_hits, strict=False)
    for index, (regex, hits) in enumerate(failregexes):
        print(f"  {index:>3} {hits:>8}  {regex.source}")
    if engine.ignoreregexes:
        print(f"Ignoreregex  {len(engine.ignoreregexes)}")
        ignoreregexes = zip(engine.ignoreregexes, stats.ignoreregex_hits, strict=False)
        for index, (regex, hits) in enumerate(ignoreregexes):
            print(f"  {index:>3} {hits:>8}  {regex.source}")
    used = engine.dates.hits()
    if not engine.journal:
        print("Date templates" + ("" if used else "  (no date found)"))
        for template, hits in sorted(used, key=lambda item: -item[1]):
            print(f"      {hits:>8}  {template.name}")
    if stats.reread_ranges:
        print(f"Workers  {stats.reread_ranges} range(s) read again in order (a worker could "
              f"not rebuild the state before its range)")
    rate = stats.lines / seconds if seconds > 0 else 0.0
    print(f"Time     {seconds:.3f} s ({rate:,.0f} lines/s)")
