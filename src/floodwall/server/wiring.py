"""What a configuration asks the daemon to run: its firewall backend, its ban policy and its
add-ons."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from floodwall.addresses import Allowlist
from floodwall.bans.addons import Addon
from floodwall.bans.policy import BanPolicy
from floodwall.bans.selfprotect import local_addresses, ssh_session_peers
from floodwall.enforcement.base import Enforcer
from floodwall.enforcement.ignorecommand import ignore_commands
from floodwall.model import Ban, Failure
from floodwall.server.logs import BanLog
from floodwall.settings.values import Config
from floodwall.storage.database import Database


def make_enforcer(config: Config,
                  evidence: Callable[[Ban], Sequence[Failure]] | None = None) -> Enforcer:
    """The firewall backend the configuration names (around it, fail2ban command actions,
    which read a ban's failures through `evidence` for their <F-*> and <matches> tags)."""
    enforcer: Enforcer
    if config.backend == "dry-run":
        from floodwall.enforcement.dryrun import DryRunEnforcer
        enforcer = DryRunEnforcer()
    else:
        from floodwall.enforcement.nftables import NftablesEnforcer
        enforcer = NftablesEnforcer(table=config.table)
    return with_command_actions(enforcer, config, evidence)


def with_command_actions(enforcer: Enforcer, config: Config,
                         evidence: Callable[[Ban], Sequence[Failure]] | None = None) -> Enforcer:
    """`enforcer` with the configuration's fail2ban command actions around it: a command
    enforcer already there takes the (reloaded) jails; one is added when some jail needs it."""
    from floodwall.enforcement.commands import CommandEnforcer
    if isinstance(enforcer, CommandEnforcer):
        enforcer.reconfigure(config.enabled_jails())
    elif any(jail.commands or not jail.firewall for jail in config.jails):
        enforcer = CommandEnforcer(enforcer, config.enabled_jails(), evidence=evidence)
    return enforcer


def ban_policy(config: Config, database: Database) -> BanPolicy:
    """The configuration's ban policy: its jails' ignorecommands asked, repeat offenders
    found in `database`, this host's addresses (and live ssh sessions' peers) protected."""
    jails = config.enabled_jails()
    policy = BanPolicy({j.name: j for j in jails}, Allowlist(config.ignoreip),
                       ignore_checks=ignore_commands(jails), history=database.count_bans,
                       history_seconds=config.history)
    policy.protect(local_addresses())
    if config.protect_ssh_sessions:
        policy.protect(ssh_session_peers(), overridable=True)
    return policy


def standard_addons(config: Config) -> list[Addon]:
    """Recon (before the others use its enricher), the fleet, the JSON ban log, the HTTP
    server."""
    addons: list[Addon] = []
    # Each addon's module (and its libraries: aiohttp, httpx, redis) is imported only when
    # the configuration asks for it, so a daemon without them starts faster.
    recon = None
    if config.recon.enabled:
        from floodwall.recon.addon import ReconAddon
        recon = ReconAddon(config.recon)
        addons.append(recon)
    if config.cluster is not None:  # imports redis only for nodes of a fleet
        from floodwall.cluster.node import ClusterNode
        addons.append(ClusterNode(config.cluster, config.path))
    if config.logging.json:
        addons.append(BanLog(recon))
    if config.http.enabled:
        from floodwall.server.http import HttpServer
        addons.append(HttpServer(config.http, recon))
    return addons
