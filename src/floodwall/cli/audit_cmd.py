"""`floodwall audit`: grade the security headers of hosted sites and print the fixes."""

from __future__ import annotations

import argparse
import os
import sys

from floodwall.audit import FetchOptions, audit_sync, find_vhosts, targets, text_report, to_json
from floodwall.audit.logvhosts import served_here, vhosts_from_logs
from floodwall.audit.vhosts import default_config_dir
from floodwall.bans.selfprotect import local_addresses
from floodwall.cli.common import DEFAULT_CONFIG
from floodwall.config.loader import load_config
from floodwall.errors import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `audit` subcommand."""
    parser = subparsers.add_parser(
        "audit", help="grade the HTTP security headers of sites and print the config fixes",
        description="Fetch each site (GET only), grade its security headers A+ to F and "
                    "print the nginx and Apache lines that fix them. A bare host name is "
                    "audited over HTTPS and HTTP. Exit status 1 when a site cannot be fetched.")
    parser.add_argument("urls", nargs="*", metavar="URL", help="URL or host name to audit")
    parser.add_argument("--vhosts", action="store_true",
                        help="audit every vhost named in the access logs of floodwall's "
                             "configured jails and in the nginx/Apache configuration")
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, metavar="FILE",
                        help="floodwall.toml whose access logs name the vhosts for --vhosts "
                             f"(default {DEFAULT_CONFIG}; skipped if absent)")
    parser.add_argument("--config-dir", metavar="DIR",
                        help="configuration directory for --vhosts (default: the first of "
                             "/etc/nginx, /etc/apache2, /etc/httpd that exists)")
    parser.add_argument("--json", action="store_true", help="print JSON, one object per site")
    parser.add_argument("--timeout", type=_positive, default=10.0, metavar="S",
                        help="seconds one request may take (default 10)")
    parser.add_argument("--concurrency", type=_count, default=8, metavar="N",
                        help="sites fetched at the same time (default 8)")
    parser.add_argument("--rate", type=_positive, default=5.0, metavar="R",
                        help="requests per second to one host at most (default 5)")
    parser.add_argument("--ca-file", metavar="PEM",
                        help="trust the CA certificates in this file instead of the public ones")
    parser.set_defaults(func=run)


def _positive(text: str) -> float:
    """A positive number argument."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _count(text: str) -> int:
    """A positive whole number argument."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Audit the URLs or vhosts asked for and print the report."""
    names = list(args.urls)
    if args.vhosts:
        found: list[str] = []
        config_dir = args.config_dir or default_config_dir()
        configured = (find_vhosts(config_dir) if args.config_dir or os.path.isdir(config_dir)
                      else [])
        if os.path.exists(args.config):
            found += served_here(vhosts_from_logs(load_config(args.config)),
                                 {vhost.name for vhost in configured}, local_addresses())
        found += [vhost.url for vhost in configured]
        if not found:
            raise ConfigError("no server_name, ServerName or ServerAlias with a fetchable host "
                              "name found, nor a vhost served in the access logs of the "
                              "configured jails: pass the directory that holds the vhosts",
                              path=config_dir)
        names += list(dict.fromkeys(found))
    if not names:
        print("floodwall audit: error: give URLs, or --vhosts to audit the sites of the web "
              "server configuration", file=sys.stderr)
        return 2
    options = FetchOptions(timeout=args.timeout, concurrency=args.concurrency, rate=args.rate,
                           ca_file=args.ca_file)
    results = audit_sync(targets(names), options)
    print(to_json(results) if args.json else text_report(results).rstrip("\n"))
    return 1 if any(result.error for result in results) else 0
