"""`floodwall status|bans|ban|unban|reload`: thin calls to the running daemon's socket."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from floodwall.cli.common import add_config_option, config_from, print_json, print_table, timestamp
from floodwall.server.control import request
from floodwall.settings.durations import format_duration


def register(subparsers: Any) -> None:
    """Add the control subcommands."""
    for name, help_text, func in (
            ("status", "show the daemon's jails and counters", _status),
            ("bans", "list active bans", _bans),
            ("reload", "make the daemon read its configuration again", _reload)):
        parser = subparsers.add_parser(name, help=help_text)
        _common(parser)
        parser.set_defaults(func=func)
    ban = subparsers.add_parser("ban", help="ban an address or prefix by hand")
    _common(ban)
    ban.add_argument("address", help="IPv4/IPv6 address or CIDR prefix")
    ban.add_argument("--jail", default=None, help="jail whose ports apply (default: all ports)")
    ban.add_argument("--bantime", default=None, help="e.g. 1h, 1d, -1 for permanent (default 1h)")
    ban.add_argument("--reason", default=None, help="note kept in the ledger")
    ban.add_argument("--force", action="store_true", help="ban even an allowlisted address")
    ban.set_defaults(func=_ban)
    unban = subparsers.add_parser("unban", help="lift an address's bans")
    _common(unban)
    unban.add_argument("address")
    unban.add_argument("--jail", default=None, help="only this jail's ban")
    unban.set_defaults(func=_unban)


def _common(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--socket", default=None,
                        help="control socket (default: [floodwall] socket of the config)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _socket(args: argparse.Namespace) -> str:
    return str(args.socket or config_from(args).socket)


def _status(args: argparse.Namespace) -> int:
    answer = request(_socket(args), "status")
    if args.json:
        print_json(answer)
        return 0
    print(f"up {format_duration(answer['uptime'])}, {answer['lines_read']} lines read, "
          f"{answer['files']} files, {answer['active_bans']} active bans "
          f"({answer['bans_made']} made since start), backend {answer['backend']}")
    print_table(["jail", "files", "failures", "tracked", "bans", "rule"],
                [[j["name"], str(j["files"]) if j.get("journal_entries") is None
                  else f"journal ({j['journal_entries']} entries)",
                  str(j["failures"]), str(j["tracked_keys"]),
                  str(j["active_bans"]),
                  (f"{j['maxretry']} in {format_duration(j['findtime'])} -> "
                  f"{format_duration(j['bantime'])}")] for j in answer["jails"]])
    for jail in answer["jails"]:
        if jail.get("lines_timed_out"):
            print(f"jail {jail['name']}: {jail['lines_timed_out']} line(s) skipped for taking "
                  f"longer than line_timeout in its filter; the log names the slow regex")
        if jail.get("actions_pending"):
            print(f"jail {jail['name']}: {jail['actions_pending']} action command(s) waiting "
                  f"to run (its actions are slow; native firewall bans are not delayed)")
        if jail.get("actions_failed"):
            print(f"jail {jail['name']}: {jail['actions_failed']} action call(s) failed; "
                  "`floodwall bans` marks the bans they do not enforce, the log says why")
    if "cluster" in answer:
        _print_fleet(answer["cluster"])
    return 0


def _print_fleet(fleet: dict[str, Any]) -> None:
    state = "connected" if fleet["connected"] else f"NOT CONNECTED: {fleet['error']}"
    lag = "-" if fleet["stream_lag"] is None else f"{fleet['stream_lag']:.1f}s"
    print(f"\nfleet {fleet['fleet']} via {fleet['redis']}: node {fleet['node']}, {state}; "
          f"stream lag {lag}, {fleet['queued']} decision(s) queued")
    bans = fleet["bans_by_origin"]
    now = time.time()
    names = sorted(set(bans) | {n["name"] for n in fleet["nodes"]})
    beats = {n["name"]: n for n in fleet["nodes"]}
    print_table(["node", "last heartbeat", "advertises", "bans from it here"],
                [[name, _ago(beats[name]["last_heartbeat"], now) if name in beats else "never",
                  ", ".join(beats[name]["advertise"]) if name in beats else "",
                  str(bans.get(name, 0))] for name in names])


def _ago(when: float | None, now: float) -> str:
    return "-" if when is None else f"{format_duration(max(0.0, now - when))} ago"


def _print_bans(bans: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for ban in bans:
            print_json(ban)
        return
    print_table(["address", "jail", "since", "left", "failures", "origin", "reason"],
                [[b["address"], b["jail"], timestamp(b["start"]),
                  format_duration(b["remaining"]), str(b["failures"]), b["origin"],
                  b["reason"] + (f" [NOT enforced by action {', '.join(b['not_enforced_by'])}]"
                                 if b.get("not_enforced_by") else "")]
                 for b in bans])


def _bans(args: argparse.Namespace) -> int:
    _print_bans(request(_socket(args), "bans")["bans"], args.json)
    return 0


def _ban(args: argparse.Namespace) -> int:
    answer = request(_socket(args), "ban", address=args.address, jail=args.jail,
                     bantime=args.bantime, reason=args.reason, force=args.force,
                     ssh_connection=os.environ.get("SSH_CONNECTION"))
    if not answer["bans"] and not args.json:
        print(f"{args.address} is already banned at least that long")
    _print_bans(answer["bans"], args.json)
    return 0


def _unban(args: argparse.Namespace) -> int:
    answer = request(_socket(args), "unban", address=args.address, jail=args.jail)
    if not answer["removed"]:
        print(f"{args.address} was not banned")
        return 1
    _print_bans(answer["removed"], args.json)
    return 0


def _reload(args: argparse.Namespace) -> int:
    request(_socket(args), "reload")
    print("reloaded")
    return 0
