"""`floodwall origin-rules`: lock the origin server down to the fleet's gateways."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from floodwall.cli.common import add_config_option, config_from, err
from floodwall.errors import ConfigError


def register(subparsers: Any) -> None:
    """Add the origin-rules subcommand."""
    parser = subparsers.add_parser(
        "origin-rules", help="print (or --apply) nftables rules letting only the fleet's "
                             "gateways reach the origin's service ports",
        description="Run on the protected origin server. The gateways are [cluster] gateways "
                    "plus the addresses live nodes advertise in the fleet's Redis.")
    add_config_option(parser)
    parser.add_argument("--apply", action="store_true", help="install the rules with nft")
    parser.add_argument("--table", default="floodwall_origin",
                        help="nftables table (family inet) to use (default floodwall_origin)")
    parser.add_argument("--no-fleet", action="store_true",
                        help="use only the configured gateways, do not ask Redis")
    parser.set_defaults(func=_origin_rules)


def _origin_rules(args: argparse.Namespace) -> int:
    from floodwall.cluster.origin import fleet_gateways, install, origin_ruleset
    config = config_from(args)
    cluster = config.cluster
    if cluster is None:
        raise ConfigError("origin-rules needs a [cluster] table (url, gateways, origin_ports)",
                          path=config.path)
    gateways = list(cluster.gateways)
    if not args.no_fleet:
        from redis.exceptions import RedisError

        from floodwall.cluster.connection import explain
        try:
            gateways += asyncio.run(fleet_gateways(cluster))
        except (RedisError, OSError) as problem:
            err(f"warning: {explain(problem, cluster, config.path)}; "
                "using the configured gateways only")
    script = origin_ruleset(gateways, cluster.origin_ports, args.table)
    print(script, end="")
    if args.apply:
        install(script)
        err(f"installed: table inet {args.table}")
    return 0
