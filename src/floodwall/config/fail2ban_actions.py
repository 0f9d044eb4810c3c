"""fail2ban action.d files: resolved as fail2ban's ActionReader does, then either mapped to
floodwall's own firewall (same ports, same protocol) or kept as commands to run."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from floodwall.config.fail2ban_filters import init_options, substitute_tags
from floodwall.config.fail2ban_ini import MissingOption, read_config
from floodwall.config.fail2ban_values import split_words, to_bool
from floodwall.errors import ConfigError
from floodwall.settings.values import CommandActionConfig

CONDITIONAL_FAMILY = re.compile(r"^\w+\?family=")
"""An option that applies only to one address family (`name?family=inet6`)."""
DEFINITION = "Definition"
ACTION_OPTIONS = ("actionstart", "actionstart_on_demand", "actionstop", "actionflush",
                  "actionreload", "actioncheck", "actionrepair", "actionrepair_on_unban",
                  "actionban", "actionprolong", "actionreban", "actionunban", "norestored")
"""The [Definition] options of an action file (fail2ban's ActionReader._configOpts)."""
COMMANDS = ("actionstart", "actionstop", "actionflush", "actionreload", "actioncheck",
            "actionrepair", "actionban", "actionprolong", "actionreban", "actionunban")
"""The commands of a command action (fail2ban's CommandAction runs the same)."""
"""Commands fail2ban may run that floodwall does not (reported by check-config)."""
DYNAMIC_TAGS = frozenset({"ip", "fid", "family", "failures", "ipfailures", "ipjailfailures",
                          "time", "bantime", "bancount", "matches", "ipmatches",
                          "ipjailmatches", "restored"})
"""Tags whose value is known only at ban time."""
_UNSUBSTITUTED = frozenset({"matches", "ipmatches", "ipjailmatches", "timeout", "bantime"})
_CONDITIONAL = re.compile(r"^(\w+)(\?.+)$")

ALL_PORTS_ACTIONS = frozenset({"nftables-allports", "iptables-allports",
                               "iptables-ipset-proto6-allports", "firewallcmd-allports",
                               "iptables-xt_recent-echo", "route"})
"""Banactions that block every port of a banned address."""
PORT_ACTIONS = frozenset({"nftables", "nftables-multiport", "iptables", "iptables-multiport",
                          "iptables-multiport-log", "iptables-new", "iptables-ipset",
                          "iptables-ipset-proto4", "iptables-ipset-proto6", "ufw",
                          "firewallcmd-multiport", "firewallcmd-new", "firewallcmd-ipset",
                          "firewallcmd-rich-rules", "firewallcmd-rich-logging"})
"""Banactions that block the jail's ports (and protocol) of a banned address."""
_ALL_PORT_RANGES = frozenset({"0:65535", "1:65535", "0-65535", "1-65535"})


@dataclass(frozen=True, slots=True)
class ResolvedAction:
    """An action file with its arguments and the jail's options applied."""

    stem: str
    """The action.d file name without .conf (e.g. "nftables-multiport")."""
    name: str
    """Its name in the jail (actname)."""
    path: str
    """The action.d file."""
    options: Mapping[str, str]
    """Every resolved option, commands included, dynamic tags still in place."""


@dataclass(frozen=True, slots=True)
class NativeScope:
    """What a firewall banaction blocks, in floodwall's terms."""

    ports: tuple[str, ...]
    """Ports blocked; empty = every port."""
    protocol: str
    """"tcp", "udp" or "all"."""


def resolve_action(path: str, arguments: Mapping[str, str], jail: str,
                   jail_options: Mapping[str, str]) -> ResolvedAction:
    """Read an action.d file as fail2ban does for `action = NAME[arguments]` in `jail`."""
    stem = os.path.basename(path).removesuffix(".conf")
    given = dict(arguments)
    name = given.setdefault("name", jail)
    if "actname" not in given:
        suffix = "" if name == jail else (
            name[len(jail):] if name.startswith(jail) else f"-{name}")
        given["actname"] = stem + suffix
    config = read_config(path)
    pool = {**jail_options, **given}
    definition: dict[str, str] = {}
    for option in ACTION_OPTIONS:
        if option in pool:
            continue
        try:
            definition[option] = config.get(DEFINITION, option, pool)
        except MissingOption:
            continue
    combined = {**definition, **init_options(config, given)}
    ignore = set(_UNSUBSTITUTED)
    ignore.update(match.group(1) for match in map(_CONDITIONAL.match, combined) if match)

    def lookup(tag: str) -> str | None:
        try:
            return config.get_ex(DEFINITION, tag, pool)
        except MissingOption:
            return None

    resolved = substitute_tags(combined, lookup, frozenset(ignore))
    return ResolvedAction(stem, given["actname"], path, resolved)


def native_scope(action: ResolvedAction) -> NativeScope | None:
    """The ports and protocol a known firewall banaction blocks; None for other actions."""
    if action.stem not in ALL_PORTS_ACTIONS | PORT_ACTIONS:
        return None
    protocol = _protocol(action.options.get("protocol", "tcp"))
    if action.stem == "route":
        return NativeScope((), "all")
    kind = action.options.get("type", "") + " " + action.options.get("actiontype", "")
    if action.stem in ALL_PORTS_ACTIONS or "allports" in kind:
        return NativeScope((), protocol)
    ports = tuple(split_words(action.options.get("port", "")))
    if not ports or any(port in _ALL_PORT_RANGES for port in ports):
        return NativeScope((), protocol)
    return NativeScope(ports, protocol)


def _protocol(text: str) -> str:
    protocols = set(split_words(text.lower())) or {"tcp"}
    if protocols == {"tcp"} or protocols == {"udp"}:
        return protocols.pop()
    return "all"


def command_action(action: ResolvedAction) -> CommandActionConfig:
    """The action as commands to run; its other options kept for the tags left in them."""
    options = action.options
    commands = tuple((name, options[name]) for name in COMMANDS if options.get(name, "").strip())
    tags = tuple((key, value) for key, value in options.items()
                 if key not in ACTION_OPTIONS and not key.startswith("known/"))
    timeout_text = options.get("timeout", "60")
    try:
        timeout = float(timeout_text)
    except ValueError:
        raise ConfigError(f"timeout must be a number of seconds, not {timeout_text!r}",
                          path=action.path, key="timeout") from None
    on_demand = _flag(action, "actionstart_on_demand")
    return CommandActionConfig(
        action.name, action.path, commands, tags, timeout,
        norestored=bool(_flag(action, "norestored")),
        start_on_demand=(any(CONDITIONAL_FAMILY.search(key) for key, _ in tags)
                         if on_demand is None else on_demand),
        repair_on_unban=bool(_flag(action, "actionrepair_on_unban")))


def _flag(action: ResolvedAction, key: str) -> bool | None:
    """A boolean option of the action (None when unset); ConfigError naming it if invalid."""
    text = action.options.get(key, "").strip()
    if not text:
        return None
    try:
        return to_bool(text)
    except ValueError as problem:
        raise ConfigError(f"{problem}; use true or false", path=action.path, key=key) from None
