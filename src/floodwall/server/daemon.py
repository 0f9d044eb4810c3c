"""The daemon's wiring: sources → pipeline → ledger → firewall, plus the control socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import Histogram

from floodwall.addresses import Allowlist, normalise_address, parse_key
from floodwall.bans.aggregate import aggregate_ban, prefix_of
from floodwall.bans.ledger import Ledger
from floodwall.bans.policy import BanPolicy
from floodwall.bans.recidive import RECIDIVE_JAIL, recidive_ban
from floodwall.bans.selfprotect import local_addresses, requester_session, ssh_session_peers
from floodwall.bans.transfer import Intake, entry_from_record, take_in
from floodwall.clock import Clock, SystemClock
from floodwall.config.loader import load_config
from floodwall.enforcement.base import Enforcer, JailFirewall
from floodwall.errors import (
    ConfigError,
    ControlError,
    EnforcementError,
    FloodwallError,
    StorageError,
)
from floodwall.model import Ban, Change, Decision, Failure, SourceLine
from floodwall.pipeline import Pipeline
from floodwall.server.addons import Addon
from floodwall.server.control import ControlServer
from floodwall.server.journals import JournalReaders
from floodwall.settings.durations import format_duration, parse_bantime
from floodwall.settings.values import Config
from floodwall.sources.watch import GlobWatcher
from floodwall.storage.database import Database, WindowRow

log = logging.getLogger("floodwall")
MANUAL_JAIL = "manual"
"""Jail of bans made by hand (`floodwall ban`): all ports."""
MANUAL_BANTIME = 3600.0
"""Default length of a ban made by hand."""
TICK_SECONDS = 1.0
PURGE_SECONDS = 3600.0
"""How often ended bans older than [floodwall] history are forgotten."""
CHECKPOINT_SECONDS = 5.0


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


RESTART_SETTINGS = (("state_dir", "[floodwall] state_dir"), ("socket", "[floodwall] socket"),
                    ("backend", "[floodwall] backend"), ("table", "[floodwall] table"),
                    ("recon", "[recon]"), ("cluster", "[cluster]"), ("logging", "[logging]"),
                    ("http", "[http]"))
"""(Config field, how the operator names it) of what a reload does not apply."""


def settings_needing_restart(running: Config, loaded: Config) -> list[str]:
    """What differs between the running and a reloaded configuration that only a restart
    applies (the database, the control socket, the firewall backend, the addons)."""
    return [name for field_name, name in RESTART_SETTINGS
            if getattr(running, field_name) != getattr(loaded, field_name)]


class Daemon:
    """One floodwall node: follows the logs, bans, expires, answers the control socket."""

    def __init__(self, config: Config, *, clock: Clock | None = None,
                 enforcer: Enforcer | None = None, database: Database | None = None,
                 addons: Sequence[Addon] = ()) -> None:
        self.config = config
        self.addons = list(addons)
        """Plug-ins told of the daemon's events (see server/addons.py)."""
        self.clock = clock or SystemClock()
        self._failures_of: dict[tuple[str, str], Sequence[Failure]] = {}
        """Failures of the bans being applied right now, for command actions' tags."""
        self.enforcer = enforcer or make_enforcer(config, self._evidence)
        self.database = database or Database(config.database)
        self.ledger = Ledger(self.database)
        self._group_bans(config)
        self.pipeline = Pipeline(config)
        self.policy = self._policy(config)
        self._refused: set[str] = set()
        self._purged_at = 0.0
        self.watcher: GlobWatcher | None = None
        self.journals: JournalReaders | None = None
        self.lines_read = 0
        self.bans_made = 0
        self.bans_by_jail: Counter[str] = Counter()
        """Bans added or extended since start, per jail (any origin)."""
        self.ban_latency = Histogram(
            "floodwall_ban_latency_seconds", "Seconds from a batch of lines arriving to its "
            "bans being in the firewall.", registry=None,
            buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        """Observed once per ban made by process()."""
        self.started = time.time()
        self._stop = asyncio.Event()
        self._follow_task: asyncio.Task[None] | None = None
        self._resync = False
        self._firewall_jails: frozenset[str] = frozenset()
        self._control = ControlServer(config.socket, self.handle_request)

    def _policy(self, config: Config) -> BanPolicy:
        policy = BanPolicy({j.name: j for j in config.enabled_jails()},
                           Allowlist(config.ignoreip), history=self.database.count_bans,
                           history_seconds=config.history)
        policy.protect(local_addresses())
        if config.protect_ssh_sessions:
            policy.protect(ssh_session_peers())
        previous: BanPolicy | None = getattr(self, "policy", None)
        if previous is not None:
            policy.protect(previous.protected)  # e.g. fleet nodes an addon added
        return policy

    # --- life cycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT (or stop()); SIGHUP reloads the configuration."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        try:
            await self.start()
            await self._tick_until_stopped()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            await self.shutdown()

    async def start(self) -> None:
        """Rebuild the firewall from the ledger, take back the counts of the last run, catch
        up on the logs, start following them."""
        self._rebuild_firewall()
        self._restore_windows()
        await self._control.start()
        for addon in self.addons:
            if hasattr(addon, "on_start"):
                await addon.on_start(self)
        self._start_watcher()
        log.info("floodwall running: %d jail(s), %d file(s), %d active ban(s), backend %s",
                 len(self.pipeline.jails), len(self.watcher.files()) if self.watcher else 0,
                 len(self.ledger.active()), self.config.backend)

    def stop(self) -> None:
        """Ask the daemon to shut down."""
        self._stop.set()

    async def shutdown(self) -> None:
        """Flush state; the kernel's sets stay as they are (bans keep their timeouts), fail2ban
        command actions are stopped as fail2ban stops them."""
        await self._stop_watcher()
        await self._control.close()
        self._save_windows()
        try:
            self.enforcer.close()
        except EnforcementError as problem:
            log.error("firewall: %s", problem)
        for addon in reversed(self.addons):
            if hasattr(addon, "on_stop"):
                try:
                    await addon.on_stop()
                except Exception:
                    log.exception("addon %s failed to stop", type(addon).__name__)
        self.database.close()
        log.info("floodwall stopped; %d active ban(s) stay enforced", len(self.ledger.active()))

    def _save_windows(self) -> None:
        """Keep every jail's counting windows for the next start (a restart forgets no count)."""
        rows = (WindowRow(name, key, times, evidence)
                for name, jail in self.pipeline.jails.items()
                for key, times, evidence in jail.windows.export())
        try:
            saved = self.database.save_windows(rows)
        except StorageError as problem:
            log.error("the counting windows were not saved (the next start counts from "
                      "zero): %s", problem)
            return
        log.info("saved %d counting window(s) for the next start", saved)

    def _restore_windows(self) -> None:
        """Take back the windows the last stop saved (those of jails still configured)."""
        restored = 0
        try:
            for row in self.database.load_windows():
                jail = self.pipeline.jails.get(row.jail)
                if jail is not None:
                    jail.windows.restore(row.key, row.times, row.evidence)
                    restored += 1
        except StorageError as problem:
            log.error("the saved counting windows could not be read (counting starts from "
                      "zero): %s", problem)
        self.pipeline.expire(self.clock.now())
        if restored:
            log.info("took back %d counting window(s) from the last run", restored)

    async def reload(self) -> None:
        """Read the configuration again; counts and bans carry over. A bad file changes nothing."""
        try:
            config = load_config(self.config.path, self.config.fail2ban_dir)
        except ConfigError as problem:
            log.error("reload refused, still running the previous configuration: %s", problem)
            return
        await self._stop_watcher()
        waiting = settings_needing_restart(self.config, config)
        if waiting:
            log.warning("reload: %s changed; that takes effect at the next restart (the rest "
                        "of the configuration is in force now)", ", ".join(waiting))
        old, old_aggregate = self.pipeline, self.config.aggregate
        self.config = config
        self.pipeline = Pipeline(config)
        for name, jail in self.pipeline.jails.items():
            previous = old.jails.get(name)
            if previous is not None:
                jail.windows = previous.windows  # keep the counts already made
                jail.windows.maxretry = jail.config.maxretry
                jail.windows.findtime = jail.config.findtime
                jail.windows.max_keys = config.max_keys
                jail.failures_seen = previous.failures_seen
        self.policy = self._policy(config)
        if config.aggregate != old_aggregate:
            self._group_bans(config)
        self.enforcer = with_command_actions(self.enforcer, config, self._evidence)
        self._rebuild_firewall()
        self._start_watcher()
        log.info("configuration reloaded from %s: %d jail(s)", config.path,
                 len(self.pipeline.jails))

    def _group_bans(self, config: Config) -> None:
        """Index the ledger by aggregation prefix, so a ban finds its prefix's members at once."""
        aggregate = config.aggregate
        self.ledger.group_by(
            (lambda key: prefix_of(key, aggregate)) if aggregate.enabled else None)

    def _start_watcher(self) -> None:
        patterns = sorted({p for jail in self.pipeline.jails.values()
                           for p in jail.config.logpath})
        self.watcher = GlobWatcher(patterns, self.database,
                                   start_at_end=self.config.new_files_from == "end",
                                   max_line_bytes=self.config.max_line_bytes)
        # The first batch now; a longer catch-up goes on in _follow, batch by batch, with
        # the control socket and the timers served in between.
        self.process(self.watcher.read_available())
        self.watcher.checkpoint()
        self._follow_task = asyncio.ensure_future(self._follow(self.watcher))
        self.journals = JournalReaders([jail.config for jail in self.pipeline.jails.values()],
                                       self.database, self._process_safely)

    async def _stop_watcher(self) -> None:
        if self.journals is not None:
            await self.journals.close()
            self.journals = None
        if self._follow_task is not None:
            self._follow_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow_task
            self._follow_task = None
        if self.watcher is not None:
            self.watcher.checkpoint()
            self.watcher.close()
            self.watcher = None

    async def _follow(self, watcher: GlobWatcher) -> None:
        async for batch in watcher.batches():
            self._process_safely(batch)

    def _process_safely(self, batch: Sequence[SourceLine]) -> None:
        """process(), with whatever goes wrong logged: one bad batch never stops the daemon."""
        try:
            self.process(batch)
        except FloodwallError as problem:
            log.error("%s", problem)
        except Exception:
            log.exception("processing %d line(s) failed", len(batch))

    def _evidence(self, ban: Ban) -> Sequence[Failure]:
        """The failures of a ban being applied right now (for command actions' tags)."""
        return self._failures_of.get((ban.jail, ban.key), ())

    async def _tick_until_stopped(self) -> None:
        last_checkpoint = time.monotonic()
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=TICK_SECONDS)
            try:
                self.tick()
                if time.monotonic() - last_checkpoint >= CHECKPOINT_SECONDS and self.watcher:
                    self.watcher.checkpoint()
                    if self.journals is not None:
                        self.journals.checkpoint()
                    last_checkpoint = time.monotonic()
            except FloodwallError as problem:
                log.error("%s", problem)

    def tick(self) -> None:
        """Expire due bans and emptied windows; retry the firewall if it failed before."""
        now = self.clock.now()
        self._enforce(self.ledger.expire(now), now)
        self.pipeline.expire(now)
        if now - self._purged_at >= PURGE_SECONDS:
            self._purged_at = now
            purged = self.database.purge_history(now - self.config.history)
            if purged:
                log.info("forgot %d ban(s) that ended more than %s ago ([floodwall] history)",
                         purged, format_duration(self.config.history))
        if self._resync:
            self._rebuild_firewall()

    # --- the ban path -------------------------------------------------------------------

    def process(self, lines: Sequence[SourceLine]) -> list[Ban]:
        """Lines → failures → decisions → bans in the ledger and the firewall."""
        if not lines:
            return []
        started = time.monotonic()
        now = self.clock.now()
        self.lines_read += len(lines)
        pipeline = self.pipeline
        entries = [pipeline.parse(line, now) for line in lines if pipeline.candidate(line)]
        if len({line.path for line in lines}) > 1:
            # Several files in one batch (catching up): count in the order things happened.
            entries.sort(key=lambda e: -1.0 if e.time is None else e.time)
        decisions: list[Decision] = []
        failed = 0
        with pipeline.deadline.armed():
            for entry in entries:
                try:
                    decisions.extend(pipeline.feed(entry))
                except Exception:  # a bug on one line must not cost the batch its bans
                    failed += 1
                    if failed == 1:
                        log.exception("counting %s line %d failed; the line is skipped, the "
                                      "other lines of the batch count on", entry.line.path,
                                      entry.line.lineno)
        if failed > 1:
            log.error("%d more line(s) of this batch failed the same way and were skipped",
                      failed - 1)
        bans = self.ban(decisions, now)
        latency = time.monotonic() - started
        for _ in bans:
            self.ban_latency.observe(latency)
        return bans

    def ban(self, decisions: Sequence[Decision], now: float) -> list[Ban]:
        """Record and enforce the bans these decisions earn."""
        new: list[tuple[Ban, Sequence[Failure]]] = []
        seen: set[tuple[str, str]] = set()
        for decision in decisions:
            if (decision.jail, decision.key) in seen or self.ledger.is_banned(
                    decision.jail, decision.key, now):
                continue
            ban = self.policy.ban_for(decision, now)
            if ban is None:
                refusal = self.policy.refusal(decision.key, decision.jail)
                if refusal is not None and decision.key not in self._refused:
                    self._refused.add(decision.key)
                    log.warning("not banning %s (jail %s would have): %s", decision.key,
                                decision.jail, refusal.reason)
                continue
            seen.add((ban.jail, ban.key))
            new.append((ban, decision.failures))
        applied = self.apply_bans(new, now)
        return applied + self._follow_ups(applied, now)

    def _follow_ups(self, applied: Sequence[Ban], now: float) -> list[Ban]:
        """Prefix aggregation and the recidive rule, after local bans are in the ledger."""
        more: list[Ban] = []
        for ban in applied:
            grouped = None
            if self.config.aggregate.enabled:
                grouped = aggregate_ban(self.config.aggregate, ban, self.ledger.grouped_with(ban),
                                        now)
            if grouped is not None:
                prefix_ban, members = grouped
                for member in members:  # the prefix replaces them (one set cannot hold both)
                    self.lift_bans(member.key, now, f"aggregated into {prefix_ban.key}",
                                   member.jail)
                more += self.apply_bans([(prefix_ban, ())], now)
            repeat = recidive_ban(self.config.recidive, ban, self.database.count_bans, now)
            if repeat is not None and not self.ledger.is_banned(RECIDIVE_JAIL, ban.key, now):
                more += self.apply_bans([(repeat, ())], now)
        return more

    def apply_bans(self, bans: Sequence[tuple[Ban, Sequence[Failure]]], now: float) -> list[Ban]:
        """The one way a ban enters: ledger first, then the firewall, then the addons.

        A ban of a key already banned longer changes nothing; a longer one extends it.
        Returns the bans that were added or extended.
        """
        if not bans:
            return []
        missing = {ban.jail for ban, _ in bans} - self._firewall_jails
        if missing:  # e.g. a fleet or imported ban of a jail this node does not run
            self._rebuild_firewall(missing)
        changes = self.ledger.add(bans)
        self._failures_of = {(ban.jail, ban.key): failures for ban, failures in bans}
        try:
            self._enforce(changes, now)
        finally:
            self._failures_of = {}
        applied = [change.ban for change in changes]
        for ban in applied:
            self.bans_made += 1
            self.bans_by_jail[ban.jail] += 1
            self.pipeline.forget(ban.key)
            log.info("ban %s jail=%s for %s origin=%s: %s", ban.key, ban.jail,
                     format_duration(ban.remaining(now)), ban.origin, ban.reason)
        self._notify("on_ban", applied)
        return applied

    def lift_bans(self, key: str, now: float, reason: str, jail: str | None = None) -> list[Ban]:
        """The one way a ban is lifted early: ledger, firewall, addons. Returns the bans lifted."""
        changes = self.ledger.remove(key, now, reason, jail)
        self._enforce(changes, now)
        lifted = [change.ban for change in changes]
        self._notify("on_unban", lifted)
        return lifted

    def _notify(self, event: str, bans: list[Ban]) -> None:
        if not bans:
            return
        for addon in self.addons:
            handler = getattr(addon, event, None)
            if handler is None:
                continue
            try:
                handler(bans)
            except Exception:  # an addon's bug must never undo or block a ban
                log.exception("addon %s failed in %s", type(addon).__name__, event)

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
        except EnforcementError as problem:
            self._resync = True
            log.error("firewall: %s (the ledger keeps the bans; retrying)", problem)

    def _rebuild_firewall(self, extra_jails: Iterable[str] = ()) -> None:
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
            self.enforcer.setup(list(jails.values()))
            self.enforcer.apply([Change("add", ban, restored=True) for ban in active], now)
            self._resync = False
        except EnforcementError as problem:
            self._resync = True
            log.error("firewall setup failed: %s (retrying every %ss)", problem, TICK_SECONDS)

    # --- control requests ---------------------------------------------------------------

    async def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one control request (status, bans, ban, unban, reload)."""
        command = request["command"]
        if command == "status":
            return {"ok": True, **self.status()}
        if command == "bans":
            now = self.clock.now()
            return {"ok": True, "bans": [_ban_json(b, now) for b in self.ledger.active()]}
        if command == "ban":
            return {"ok": True, "bans": [_ban_json(b, self.clock.now())
                                         for b in self.manual_ban(request)]}
        if command == "unban":
            return {"ok": True, "removed": self.manual_unban(request)}
        if command == "reload":
            await self.reload()
            return {"ok": True}
        if command == "import":
            intake = self.import_bans(request)
            return {"ok": True, "enforced": intake.enforced, "history": intake.history,
                    "known": intake.known, "allowlisted": list(intake.allowlisted)}
        raise ControlError(f"unknown command {command!r}; "
                           "expected status, bans, ban, unban, reload or import")

    def import_bans(self, request: dict[str, Any]) -> Intake:
        """Take in imported bans (`floodwall import`, `import-fail2ban`): past ones as history,
        current ones enforced at once, in their own jail's set (all ports if it has none)."""
        records = request.get("bans")
        if not isinstance(records, list):
            raise ControlError("import: expected 'bans', a list of ban objects")
        entries = [entry_from_record(record, f"import request, ban {index}")
                   for index, record in enumerate(records, start=1)]
        return take_in(self.database, entries, self.clock.now(),
                       lambda bans: self.apply_bans(bans, self.clock.now()),
                       lambda key, jail: self.policy.refusal(key, jail) is not None)

    def status(self) -> dict[str, Any]:
        """Counters and per-jail state, plus what each addon with a status() adds."""
        active = self.ledger.active()
        active_by_jail = Counter(ban.jail for ban in active)
        files = self.watcher.files() if self.watcher else []
        journals = {follower.jail: follower
                    for follower in (self.journals.followers if self.journals else [])}
        pending = self.actions_pending()
        jails = []
        for name, jail in self.pipeline.jails.items():
            follower = journals.get(name)
            jails.append({
                "name": name,
                "files": sum(1 for f in files if jail in self.pipeline.jails_for(f)),
                "journal_entries": follower.entries if follower else None,
                "failures": jail.failures_seen,
                "lines_timed_out": jail.filter.timeouts,
                "tracked_keys": len(jail.windows),
                "active_bans": active_by_jail[name],
                "actions_pending": pending.get(name, 0),
                "maxretry": jail.config.maxretry,
                "findtime": jail.config.findtime,
                "bantime": jail.config.bantime,
            })
        status = {"uptime": time.time() - self.started, "lines_read": self.lines_read,
                  "bans_made": self.bans_made, "active_bans": len(active),
                  "backend": self.config.backend, "files": len(files), "jails": jails}
        for addon in self.addons:
            if hasattr(addon, "status"):
                status.update(addon.status())
        return status

    def actions_pending(self) -> dict[str, int]:
        """Per jail with fail2ban actions, its action calls queued and not yet finished
        (they run off the loop, see enforcement/action_runner.py)."""
        pending: Callable[[], dict[str, int]] | None = getattr(self.enforcer, "pending", None)
        return pending() if pending is not None else {}

    def manual_ban(self, request: dict[str, Any]) -> list[Ban]:
        """Ban an address or prefix by hand; allowlisted keys only with force."""
        key = _request_key(request)
        jail = str(request.get("jail") or MANUAL_JAIL)
        if jail != MANUAL_JAIL and jail not in self.pipeline.jails:
            raise ControlError(f"no jail named {jail!r}; use one of "
                               f"{', '.join([MANUAL_JAIL, *self.pipeline.jails])}")
        # The operator's own session is looked up now, not just at start.
        self.policy.protect(ssh_session_peers() if self.config.protect_ssh_sessions else {})
        self.policy.protect(requester_session(request.get("ssh_connection")))
        refusal = self.policy.refusal(key, jail)
        if refusal is not None and not request.get("force"):
            raise ControlError(f"refusing to ban {key}: {refusal.reason} (use --force to ban "
                               "anyway)")
        try:
            bantime = parse_bantime(request.get("bantime") or MANUAL_BANTIME)
        except ValueError as problem:
            raise ControlError(f"bantime: {problem}") from None
        now = self.clock.now()
        ban = Ban(key, jail, now, None if bantime is None else now + bantime, 0, "manual",
                  str(request.get("reason") or "banned by hand"))
        return self.apply_bans([(ban, ())], now)

    def manual_unban(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Remove a key's bans (in one jail, or everywhere)."""
        key = _request_key(request)
        now = self.clock.now()
        lifted = self.lift_bans(key, now, "unbanned by hand", request.get("jail"))
        return [_ban_json(ban, now) for ban in lifted]


def _request_key(request: dict[str, Any]) -> str:
    text = str(request.get("address") or "")
    key = normalise_address(text)
    if key is None:
        try:
            key = str(parse_key(text))
        except ValueError:
            raise ControlError(f"{text!r} is not an IP address or network") from None
    return key


def _ban_json(ban: Ban, now: float) -> dict[str, Any]:
    return {"address": ban.key, "jail": ban.jail, "start": ban.start, "until": ban.until,
            "remaining": ban.remaining(now), "failures": ban.count, "origin": ban.origin,
            "reason": ban.reason}
