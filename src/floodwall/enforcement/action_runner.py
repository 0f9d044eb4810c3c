"""Running the jails' action calls off the daemon's loop: in order within a jail, jails side
by side on a small shared pool of threads (not a thread per jail)."""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("floodwall.enforcement")

ACTION_THREADS = 4
"""Threads running action calls: up to this many jails run theirs at the same time."""


class ActionRunner:
    """Queues each jail's action calls (start, ban, unban, reload, stop) and runs them in
    the order given, one at a time per jail. A slow command (a whois, a mail) delays that
    jail's later calls only; the caller never waits. A call that raises is logged and the
    queue goes on."""

    def __init__(self, threads: int = ACTION_THREADS) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="floodwall-actions")
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queues: dict[str, deque[Callable[[], None]]] = {}
        self._running: set[str] = set()
        self._pending: Counter[str] = Counter()

    def submit(self, jail: str, call: Callable[[], None]) -> None:
        """Run `call` after every call submitted for `jail` before it."""
        with self._lock:
            self._queues.setdefault(jail, deque()).append(call)
            self._pending[jail] += 1
            if jail in self._running:
                return
            self._running.add(jail)
        self._pool.submit(self._drain, jail)

    def pending(self) -> dict[str, int]:
        """Per jail that has had calls, those submitted and not yet finished."""
        with self._lock:
            return dict(self._pending)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every call submitted so far has finished; False if `timeout` ran out."""
        with self._changed:
            return self._changed.wait_for(lambda: not any(self._pending.values()), timeout)

    def close(self) -> None:
        """Run everything queued, then end the threads."""
        self.settle()
        self._pool.shutdown(wait=True)

    def _drain(self, jail: str) -> None:
        """Run the jail's queued calls until none is left (on a pool thread)."""
        while True:
            with self._lock:
                queue = self._queues[jail]
                if not queue:
                    self._running.discard(jail)
                    return
                call = queue.popleft()
            try:
                call()
            except Exception:  # an action's own failures are logged where they happen
                log.exception("jail %s: an action call failed unexpectedly", jail)
            finally:
                with self._changed:
                    self._pending[jail] -= 1
                    self._changed.notify_all()
