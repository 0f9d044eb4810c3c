"""`floodwall run` and `floodwall check-config`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
from typing import Any

from floodwall.cli.common import add_config_option, add_fail2ban_option, config_from
from floodwall.settings.durations import format_duration


def register(subparsers: Any) -> None:
    """Add the run and check-config subcommands."""
    run = subparsers.add_parser("run", help="run the daemon in the foreground (logs to stderr)")
    add_config_option(run)
    add_fail2ban_option(run)
    run.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    run.set_defaults(func=_run)
    check = subparsers.add_parser("check-config", help="validate the configuration and exit")
    add_config_option(check)
    add_fail2ban_option(check)
    check.set_defaults(func=_check)


def _run(args: argparse.Namespace) -> int:
    config = config_from(args)
    from floodwall.server.daemon import Daemon
    from floodwall.server.logs import configure_logging
    from floodwall.server.wiring import standard_addons
    configure_logging(config.logging.json, args.verbose)
    _raise_open_file_limit()
    asyncio.run(Daemon(config, addons=standard_addons(config)).run())
    return 0


def _raise_open_file_limit() -> None:
    """Each followed log keeps a descriptor open: hundreds of vhosts need more than 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        # On failure keep the limit we have: running out shows as one warning per file.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _check(args: argparse.Namespace) -> int:
    config = config_from(args)
    from floodwall.pipeline import Pipeline
    Pipeline(config)  # builds every filter: catches what only shows when compiling them
    print(f"{config.path}: OK, {len(config.enabled_jails())} enabled jail(s)")
    for jail in config.jails:
        state = "" if jail.enabled else " (disabled)"
        print(f"  {jail.name}{state}: filter={jail.filter} maxretry={jail.maxretry} "
              f"findtime={format_duration(jail.findtime)} "
              f"bantime={format_duration(jail.bantime)} logpath={', '.join(jail.logpath)}")
    from floodwall.matching.fail2ban.prefilter import HYPERSCAN_INSTALLED
    if not HYPERSCAN_INSTALLED:
        print("hyperscan not installed: native jails prefilter lines with Python's re, "
              "floodwall regex runs fail2ban filters on every line (slower, same results)")
    if config.fail2ban_dir is not None:
        from floodwall.cli.fail2ban_check import print_fail2ban_report
        print_fail2ban_report(config.fail2ban_dir)
    return 0
