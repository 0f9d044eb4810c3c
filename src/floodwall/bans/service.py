"""The one ban path: decisions through the policy into the ledger, the firewall and the
add-ons, and every other way a ban starts or ends (by hand, imported, from the fleet,
expired). The daemon, a replay and the fleet all go through it, so they ban alike."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from floodwall.addresses import ban_key, is_ban_key
from floodwall.bans import transfer
from floodwall.bans.addons import Addon
from floodwall.bans.aggregate import aggregate_ban, prefix_of
from floodwall.bans.ledger import Ledger
from floodwall.bans.policy import BanPolicy
from floodwall.bans.recidive import RECIDIVE_JAIL, recidive_ban
from floodwall.bans.selfprotect import requester_session, ssh_session_peers
from floodwall.clock import Clock
from floodwall.enforcement.base import ApplyError, Enforcer, JailFirewall
from floodwall.errors import ControlError, EnforcementError
from floodwall.model import Ban, Change, Decision, Failure
from floodwall.settings.durations import format_duration
from floodwall.settings.values import Config

log = logging.getLogger("floodwall")
"""The daemon's own log: operators (and their tools) read its ban and unban lines."""
MANUAL_JAIL = "manual"
"""Jail of bans made by hand (`floodwall ban`): all ports."""
MANUAL_BANTIME = 3600.0
"""Default length of a ban made by hand."""

ResetCount = Callable[[str, str | None], None]
"""(key, jail, or None for every jail): the jails' count of the key starts over."""
Evidenced = Sequence[tuple[Ban, Sequence[Failure]]]
"""Bans, each with the failures that caused it (none for a ban from elsewhere)."""


class BanService:
    """Makes, lifts and expires bans: the ledger first, then the firewall, then the add-ons.

    A ban resets its key's count in its own jail (for a ban the jails decided, their
    crossing already did: jails count independently, as in fail2ban and in a replay split
    over processes); a ban from outside the counting (by hand, imported, from the fleet)
    resets it in every jail.
    """

    def __init__(self, config: Config, ledger: Ledger, policy: BanPolicy, enforcer: Enforcer,
                 clock: Clock, *, addons: Sequence[Addon] = (),
                 reset_count: ResetCount | None = None) -> None:
        self.config = config
        self.ledger = ledger
        self.policy = policy
        self.enforcer = enforcer
        self.clock = clock
        self.addons = addons
        """Told of every ban and early unban."""
        self.made: Counter[str] = Counter()
        """Bans added or extended since start, per jail (any origin)."""
        self._reset_count = reset_count
        self._refused: set[str] = set()
        self._firewall_jails: frozenset[str] = frozenset()
        self._firewall_failed = False
        self._failures_of: dict[tuple[str, str], Sequence[Failure]] = {}
        self._group_bans()

    def reconfigure(self, config: Config, policy: BanPolicy, enforcer: Enforcer) -> None:
        """Go on under a reloaded configuration with its policy (keys protected meanwhile,
        e.g. the fleet's nodes, stay protected) and enforcer; the firewall is rebuilt."""
        policy.keep_protection_of(self.policy)
        regroup = config.aggregate != self.config.aggregate
        self.config, self.policy, self.enforcer = config, policy, enforcer
        if regroup:
            self._group_bans()
        self.rebuild_firewall()

    # --- bans in ----------------------------------------------------------------------

    def decide(self, decisions: Sequence[Decision], now: float) -> list[Ban]:
        """The bans these decisions earn from `now` (none for a key banned already or that
        must never be), recorded and enforced, then the prefix and recidive bans they
        complete; returns every ban added or extended."""
        new: list[tuple[Ban, Sequence[Failure]]] = []
        seen: set[tuple[str, str]] = set()
        for decision in decisions:
            if (decision.jail, decision.key) in seen or self.ledger.is_banned(
                    decision.jail, decision.key, now):
                continue
            ban = self.policy.ban_for(decision, now)
            if ban is None:
                self._log_refusal(decision)
                continue
            seen.add((ban.jail, ban.key))
            new.append((ban, decision.failures))
        applied = self._enter(new, now, every_jail=False)
        return applied + self._follow_ups(applied, now)

    def apply(self, bans: Evidenced, now: float) -> list[Ban]:
        """Record and enforce bans made elsewhere (the fleet's, imported, by hand). A ban of
        a key already banned longer changes nothing; a longer one extends it. Returns the
        bans added or extended."""
        return self._enter(bans, now, every_jail=True)

    def ban_by_hand(self, key: str, jail: str = MANUAL_JAIL,
                    bantime: float | None = MANUAL_BANTIME, reason: str = "banned by hand", *,
                    force: bool = False, ssh_connection: str | None = None) -> list[Ban]:
        """Ban a key from now for `bantime` seconds (None: for good). ControlError for a jail
        that does not run, and (unless `force`) for a key that must never be banned; the
        peers of live ssh sessions, and the operator's own (`ssh_connection`), are looked up
        now."""
        if jail != MANUAL_JAIL and jail not in self.policy.jails:
            raise ControlError(f"no jail named {jail!r}; use one of "
                               f"{', '.join([MANUAL_JAIL, *self.policy.jails])}")
        self.policy.protect(ssh_session_peers() if self.config.protect_ssh_sessions else {},
                            overridable=True)
        self.policy.protect(requester_session(ssh_connection))
        refusal = self.policy.refusal(key, jail)
        if refusal is not None and not (force and refusal.overridable):
            hint = ("use --force to ban anyway" if refusal.overridable
                    else "not even --force bans it: the host would cut itself off")
            raise ControlError(f"refusing to ban {key}: {refusal.reason} ({hint})")
        now = self.clock.now()
        ban = Ban(key, jail, now, None if bantime is None else now + bantime, 0, "manual",
                  reason)
        return self._enter([(ban, ())], now, every_jail=True, forced=force)

    def take_in(self, entries: Sequence[transfer.Entry]) -> transfer.Intake:
        """Take in imported bans: past ones as history, current ones enforced at once in their
        own jail's set (all ports if it has none); keys never to be banned are refused."""
        now = self.clock.now()
        return transfer.take_in(self.ledger.database, entries, now,
                                lambda bans: self.apply(bans, now),
                                lambda key, jail: self.policy.refusal(key, jail) is not None)

    def evidence(self, ban: Ban) -> Sequence[Failure]:
        """The failures of a ban being applied right now (for command actions' tags)."""
        return self._failures_of.get((ban.jail, ban.key), ())

    # --- bans out ---------------------------------------------------------------------

    def lift(self, key: str, now: float, reason: str, jail: str | None = None) -> list[Ban]:
        """End a key's bans early (in one jail, or in all); returns the bans lifted."""
        changes = self.ledger.remove(key, now, reason, jail)
        self._enforce(changes, now)
        lifted = [change.ban for change in changes]
        self._tell("on_unban", lifted)
        return lifted

    def expire(self, now: float) -> None:
        """End the bans whose time is over by `now`."""
        self._enforce(self.ledger.expire(now), now)

    # --- the firewall -----------------------------------------------------------------

    def rebuild_firewall(self, extra_jails: Iterable[str] = ()) -> None:
        """Set the firewall up afresh for the configured jails, those of active bans and
        `extra_jails`, and apply every active ban again (due ones are expired first)."""
        now = self.clock.now()
        self.ledger.expire(now)  # the table is rebuilt below: nothing to remove from it
        jails = {j.name: JailFirewall(j.name, j.ports, j.protocol, j.action, j.rate, j.burst)
                 for j in self.config.enabled_jails()}
        jails[MANUAL_JAIL] = JailFirewall(MANUAL_JAIL)
        if self.config.recidive.enabled:
            jails[RECIDIVE_JAIL] = JailFirewall(RECIDIVE_JAIL)
        active = self.ledger.active()
        for name in {*(ban.jail for ban in active), *extra_jails}:
            if name not in jails:
                jails[name] = JailFirewall(name)
        self._firewall_jails = frozenset(jails)
        try:
            self._firewall_failed = False
            self.enforcer.rebuild(list(jails.values()),
                                  [Change("add", ban, restored=True) for ban in active], now)
        except ApplyError as problem:  # e.g. a key an older version stored: the rest is in
            log.error("firewall: %s", problem)
        except EnforcementError as problem:
            self._firewall_failed = True
            log.error("firewall setup failed: %s (retrying)", problem)

    def retry_firewall(self) -> None:
        """Rebuild the firewall if a change to it failed since it was last built."""
        if self._firewall_failed:
            self.rebuild_firewall()

    # --- inside -----------------------------------------------------------------------

    def _enter(self, bans: Evidenced, now: float, *, every_jail: bool,
               forced: bool = False) -> list[Ban]:
        """The one way a ban enters: ledger, firewall, counts, add-ons. A key not spelt as
        `addresses.ban_key` spells it (garbage, a zone id, host bits set) never enters, nor
        one the policy refuses, whatever its origin (the fleet, an import, aggregation);
        `forced` (a hand ban with --force) passes only the refusals an operator may
        override."""
        bans = [(ban, failures) for ban, failures in bans
                if self._valid_key(ban) and self._allowed(ban, forced)]
        if not bans:
            return []
        missing = {ban.jail for ban, _ in bans} - self._firewall_jails
        if missing:  # e.g. a fleet or imported ban of a jail this node does not run
            self.rebuild_firewall(missing)
        changes = self.ledger.add(bans)
        self._failures_of = {(ban.jail, ban.key): failures for ban, failures in bans}
        try:
            self._enforce(changes, now)
        finally:
            self._failures_of = {}
        applied = [change.ban for change in changes]
        for ban in applied:
            self.made[ban.jail] += 1
            if self._reset_count is not None:
                self._reset_count(ban.key, None if every_jail else ban.jail)
            log.info("ban %s jail=%s for %s origin=%s: %s", ban.key, ban.jail,
                     format_duration(ban.remaining(now)), ban.origin, ban.reason)
        self._tell("on_ban", applied)
        return applied

    def _tell(self, event: Literal["on_ban", "on_unban"], bans: list[Ban]) -> None:
        """Tell every add-on of these bans (if any); an add-on's bug never undoes or blocks
        a ban or an unban."""
        if not bans:
            return
        for addon in self.addons:
            try:
                addon.on_ban(bans) if event == "on_ban" else addon.on_unban(bans)
            except Exception:
                log.exception("addon %s failed in %s", type(addon).__name__, event)

    def _follow_ups(self, applied: Sequence[Ban], now: float) -> list[Ban]:
        """Prefix aggregation and the recidive rule, after the bans are in the ledger."""
        more: list[Ban] = []
        for ban in applied:
            grouped = None
            if self.config.aggregate.enabled:
                grouped = aggregate_ban(self.config.aggregate, ban, self.ledger.grouped_with(ban),
                                        now)
            if grouped is not None and not self._allowed(grouped[0], forced=False):
                grouped = None  # the prefix holds what must not be banned: members stay
            if grouped is not None:
                prefix_ban, members = grouped
                for member in members:  # the prefix replaces them (one set cannot hold both)
                    self.lift(member.key, now, f"aggregated into {prefix_ban.key}", member.jail)
                more += self._enter([(prefix_ban, ())], now, every_jail=False)
            repeat = recidive_ban(self.config.recidive, ban, self.ledger.database.count_bans, now)
            if repeat is not None and not self.ledger.is_banned(RECIDIVE_JAIL, ban.key, now):
                more += self._enter([(repeat, ())], now, every_jail=False)
        return more

    def _enforce(self, changes: Sequence[Change], now: float) -> None:
        if not changes:
            return
        for change in changes:
            if change.action == "remove":
                log.info("unban %s jail=%s (%s)", change.ban.key, change.ban.jail,
                         "expired" if change.ban.until is not None and change.ban.until <= now
                         else "lifted")
        try:
            self.enforcer.apply(changes, now)
        except ApplyError as problem:  # the rest of the batch is in: no rebuild for a few
            log.error("firewall: %s", problem)
        except EnforcementError as problem:
            self._firewall_failed = True
            log.error("firewall: %s (the ledger keeps the bans; retrying)", problem)

    def _valid_key(self, ban: Ban) -> bool:
        """Whether the ban's key may enter the ledger; a refused one is logged."""
        if is_ban_key(ban.key):
            return True
        try:
            problem = f"it is spelt {ban_key(ban.key)!r} in the ledger"
        except ValueError as error:
            problem = str(error)
        log.error("refusing a ban of jail %s from %s: key %r: %s", ban.jail, ban.origin,
                  ban.key, problem)
        return False

    def _allowed(self, ban: Ban, forced: bool) -> bool:
        """Whether the policy lets the ban in; a refused one is said once per key."""
        refusal = self.policy.refusal(ban.key, ban.jail)
        if refusal is None or (forced and refusal.overridable):
            return True
        if ban.key not in self._refused:
            self._refused.add(ban.key)
            log.warning("not banning %s (jail %s, origin %s): %s", ban.key, ban.jail,
                        ban.origin, refusal.reason)
        return False

    def _log_refusal(self, decision: Decision) -> None:
        """Say once per key why a jail's decision does not ban it."""
        refusal = self.policy.refusal(decision.key, decision.jail)
        if refusal is not None and decision.key not in self._refused:
            self._refused.add(decision.key)
            log.warning("not banning %s (jail %s would have): %s", decision.key,
                        decision.jail, refusal.reason)

    def _group_bans(self) -> None:
        """Index the ledger by aggregation prefix, so a ban finds its prefix's members at once."""
        aggregate = self.config.aggregate
        self.ledger.group_by(
            (lambda key: prefix_of(key, aggregate)) if aggregate.enabled else None)
