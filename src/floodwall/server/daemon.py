"""The daemon's wiring: sources → pipeline → the ban path (bans/service.py), timers, the
control socket and the add-ons."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from prometheus_client import Histogram

from floodwall.bans.addons import Addon
from floodwall.bans.ledger import Ledger
from floodwall.bans.service import MANUAL_BANTIME, MANUAL_JAIL, BanService
from floodwall.bans.transfer import Intake, entry_from_record
from floodwall.clock import Clock, SystemClock
from floodwall.config.loader import load_config
from floodwall.detection.jail import Jail
from floodwall.detection.saved_windows import restore_windows, save_windows
from floodwall.enforcement.base import Enforcer
from floodwall.enforcement.commands import CommandEnforcer
from floodwall.errors import (
    ConfigError,
    ControlError,
    EnforcementError,
    FloodwallError,
)
from floodwall.model import Ban, Decision, Failure, SourceLine
from floodwall.pipeline import Pipeline
from floodwall.server.control import ControlServer, ban_json, request_key
from floodwall.server.journals import JournalReaders
from floodwall.server.wiring import ban_policy, make_enforcer, with_command_actions
from floodwall.settings.durations import format_duration, parse_bantime
from floodwall.settings.restart import settings_needing_restart
from floodwall.settings.values import Config
from floodwall.sources.watch import GlobWatcher
from floodwall.storage.database import Database

log = logging.getLogger("floodwall")
TICK_SECONDS = 1.0
PURGE_SECONDS = 3600.0
"""How often ended bans older than [floodwall] history are forgotten."""
CHECKPOINT_SECONDS = 5.0

class Daemon:
    """One floodwall node: follows the logs, bans, expires, answers the control socket."""

    def __init__(self, config: Config, *, clock: Clock | None = None,
                 enforcer: Enforcer | None = None, database: Database | None = None,
                 addons: Sequence[Addon] = ()) -> None:
        self.config = config
        self.addons = list(addons)
        """Plug-ins told of the daemon's events (see bans/addons.py)."""
        self.clock = clock or SystemClock()
        self.database = database or Database(config.database)
        self.pipeline = Pipeline(config)
        self.bans = BanService(
            config, Ledger(self.database), ban_policy(config, self.database),
            enforcer or make_enforcer(config, self._evidence), self.clock, addons=self.addons,
            reset_count=self._reset_count)
        """The ban path: ledger, policy, firewall."""
        self._purged_at = 0.0
        self.watcher: GlobWatcher | None = None
        self.journals: JournalReaders | None = None
        self.lines_read = 0
        self.ban_latency = Histogram(
            "floodwall_ban_latency_seconds", "Seconds from a batch of lines arriving to its "
            "bans being in the firewall.", registry=None,
            buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        """Observed once per ban made by process()."""
        self.started = time.time()
        self._stop = asyncio.Event()
        self._follow_task: asyncio.Task[None] | None = None
        self._control = ControlServer(config.socket, self.handle_request)

    @property
    def jails(self) -> dict[str, Jail]:
        """The running jails by name (a reload replaces them)."""
        return self.pipeline.jails

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
        self.bans.rebuild_firewall()
        restore_windows(self.pipeline.jails, self.database)
        self.pipeline.expire(self.clock.now())
        await self._control.start()
        for addon in self.addons:
            await addon.on_start(self)
        self._start_watcher()
        log.info("floodwall running: %d jail(s), %d file(s), %d active ban(s), backend %s",
                 len(self.pipeline.jails), len(self.watcher.files()) if self.watcher else 0,
                 len(self.bans.ledger.active()), self.config.backend)

    def stop(self) -> None:
        """Ask the daemon to shut down."""
        self._stop.set()

    async def shutdown(self) -> None:
        """Flush state; the kernel's sets stay as they are (bans keep their timeouts), fail2ban
        command actions are stopped as fail2ban stops them."""
        await self._stop_watcher()
        await self._control.close()
        save_windows(self.pipeline.jails, self.database)
        try:
            self.bans.enforcer.close()
        except EnforcementError as problem:
            log.error("firewall: %s", problem)
        for addon in reversed(self.addons):
            try:
                await addon.on_stop()
            except Exception:
                log.exception("addon %s failed to stop", type(addon).__name__)
        self.database.close()
        log.info("floodwall stopped; %d active ban(s) stay enforced",
                 len(self.bans.ledger.active()))

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
        old = self.pipeline
        self.config = config
        self.pipeline = Pipeline(config)
        for name, jail in self.pipeline.jails.items():
            previous = old.jails.get(name)
            if previous is not None:
                jail.take_counts(previous)
        self.bans.reconfigure(config, ban_policy(config, self.database),
                              with_command_actions(self.bans.enforcer, config, self._evidence))
        self._start_watcher()
        log.info("configuration reloaded from %s: %d jail(s)", config.path,
                 len(self.pipeline.jails))

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
        return self.bans.evidence(ban)

    def _reset_count(self, key: str, jail: str | None) -> None:
        """A ban made the key's count start over (in one jail, or in every jail)."""
        self.pipeline.forget(key, jail)

    async def _tick_until_stopped(self) -> None:
        last_checkpoint = time.monotonic()
        while not self._stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=TICK_SECONDS)
            try:
                self.tick()
                if time.monotonic() - last_checkpoint >= CHECKPOINT_SECONDS:
                    self.checkpoint()
                    last_checkpoint = time.monotonic()
            except FloodwallError as problem:
                log.error("%s", problem)

    def checkpoint(self) -> None:
        """Save how far every file and journal has been read."""
        if self.watcher is not None:
            self.watcher.checkpoint()
        if self.journals is not None:
            self.journals.checkpoint()

    def tick(self) -> None:
        """Expire due bans and emptied windows; retry the firewall if it failed before."""
        now = self.clock.now()
        self.bans.expire(now)
        self.pipeline.expire(now)
        if now - self._purged_at >= PURGE_SECONDS:
            self._purged_at = now
            purged = self.database.purge_history(now - self.config.history)
            if purged:
                log.info("forgot %d ban(s) that ended more than %s ago ([floodwall] history)",
                         purged, format_duration(self.config.history))
        self.bans.retry_firewall()

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
                    decisions.extend(pipeline.feed(entry, now))
                except Exception:  # a bug on one line must not cost the batch its bans
                    failed += 1
                    if failed == 1:
                        log.exception("counting %s line %d failed; the line is skipped, the "
                                      "other lines of the batch count on", entry.line.path,
                                      entry.line.lineno)
        if failed > 1:
            log.error("%d more line(s) of this batch failed the same way and were skipped",
                      failed - 1)
        bans = self.bans.decide(decisions, now)
        latency = time.monotonic() - started
        for _ in bans:
            self.ban_latency.observe(latency)
        return bans

    # --- control requests ---------------------------------------------------------------

    async def handle_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one control request (status, bans, ban, unban, reload, import)."""
        command = request["command"]
        if command == "status":
            return {"ok": True, **self.status()}
        if command == "bans":
            now = self.clock.now()
            failing = self._not_enforcing()
            return {"ok": True, "bans": [
                {**ban_json(b, now), **({"not_enforced_by": failing[(b.jail, b.key)]}
                                        if (b.jail, b.key) in failing else {})}
                for b in self.bans.ledger.active()]}
        if command == "ban":
            return {"ok": True, "bans": [ban_json(b, self.clock.now())
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
        """Take in the imported bans of a request (`floodwall import`, `import-fail2ban`)."""
        records = request.get("bans")
        if not isinstance(records, list):
            raise ControlError("import: expected 'bans', a list of ban objects")
        return self.bans.take_in([entry_from_record(record, f"import request, ban {index}")
                                  for index, record in enumerate(records, start=1)])

    def status(self) -> dict[str, Any]:
        """Counters and per-jail state, plus what each addon adds."""
        active = self.bans.ledger.active()
        active_by_jail = Counter(ban.jail for ban in active)
        files = self.watcher.files() if self.watcher else []
        journals = {follower.jail: follower
                    for follower in (self.journals.followers if self.journals else [])}
        pending = self.actions_pending()
        failed = self.actions_failed()
        jails = []
        for name, jail in self.pipeline.jails.items():
            follower = journals.get(name)
            jails.append({
                "name": name,
                "files": sum(1 for f in files if jail in self.pipeline.jails_for(f)),
                "journal_entries": follower.entries if follower else None,
                "failures": jail.failures_seen,
                "lines_timed_out": jail.filter.timeouts,
                "future_dated": jail.future_dated,
                "tracked_keys": len(jail.windows),
                "active_bans": active_by_jail[name],
                "actions_pending": pending.get(name, 0),
                "actions_failed": failed.get(name, 0),
                "maxretry": jail.config.maxretry,
                "findtime": jail.config.findtime,
                "bantime": jail.config.bantime,
            })
        status = {"uptime": time.time() - self.started, "lines_read": self.lines_read,
                  "bans_made": sum(self.bans.made.values()), "active_bans": len(active),
                  "backend": self.config.backend, "files": len(files), "jails": jails}
        for addon in self.addons:
            status.update(addon.status())
        return status

    def actions_pending(self) -> dict[str, int]:
        """Per jail with fail2ban actions, its action calls queued and not yet finished
        (they run off the loop, see enforcement/action_runner.py)."""
        enforcer = self.bans.enforcer
        return enforcer.pending() if isinstance(enforcer, CommandEnforcer) else {}

    def actions_failed(self) -> dict[str, int]:
        """Per jail with fail2ban actions, its ban-time action calls that failed."""
        enforcer = self.bans.enforcer
        return enforcer.failures() if isinstance(enforcer, CommandEnforcer) else {}

    def _not_enforcing(self) -> dict[tuple[str, str], list[str]]:
        """(jail, key) -> the actions whose ban of it failed."""
        enforcer = self.bans.enforcer
        return enforcer.not_enforcing() if isinstance(enforcer, CommandEnforcer) else {}

    def manual_ban(self, request: dict[str, Any]) -> list[Ban]:
        """Ban an address or prefix by hand (a `ban` request); allowlisted keys only with force."""
        key = request_key(request)
        try:
            bantime = parse_bantime(request.get("bantime") or MANUAL_BANTIME)
        except ValueError as problem:
            raise ControlError(f"bantime: {problem}") from None
        return self.bans.ban_by_hand(
            key, str(request.get("jail") or MANUAL_JAIL), bantime,
            str(request.get("reason") or "banned by hand"), force=bool(request.get("force")),
            ssh_connection=request.get("ssh_connection"))

    def manual_unban(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Remove a key's bans (in one jail, or everywhere). A key as an older version may
        have stored it (not a valid key today) is taken as written, so it can be removed."""
        text = str(request.get("address") or "")
        stored = {ban.key for ban in self.bans.ledger.active()}
        key = text if text in stored else request_key(request)
        now = self.clock.now()
        lifted = self.bans.lift(key, now, "unbanned by hand", request.get("jail"))
        # At once, not at the next checkpoint: a crash in between would read the lines
        # that made the ban again at the next start, and ban the key again.
        self.checkpoint()
        return [ban_json(ban, now) for ban in lifted]
