"""fail2ban Python actions (action.d/*.py), each run in a helper process of its own.

The action's class comes from the operator's action.d and imports fail2ban's own package, so
it runs under the Python that has that package (Debian's `fail2ban`), in a process started
for it (python_action_runner.py): a crash or a hang there never stops the daemon, and a
call that takes longer than the action's timeout is cut short and the helper restarted.
The life cycle is fail2ban's: start at the jail's start, ban/unban, flush (where the class
has it) or unban each at the stop, then stop; reload on a reload; bans restored at start
skipped when the action sets `norestored`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any

from floodwall.enforcement.lifecycle import ActionLifecycle, Capability, Operation
from floodwall.settings.values import PythonActionConfig

log = logging.getLogger("floodwall.enforcement")

RUNNER = Path(__file__).with_name("python_action_runner.py")
_INTEGERS = ("failures", "ipfailures", "ipjailfailures", "bancount", "restored")
_CANDIDATES = ("/usr/bin/python3", "python3")


@functools.cache
def fail2ban_python() -> str | None:
    """A Python that imports fail2ban's package (for its Python actions); None if none."""
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found is None:
            continue
        try:
            probe = subprocess.run([found, "-c", "import fail2ban.server.actions"],
                                   capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return found
    return None


def action_info(tags: dict[str, str]) -> dict[str, Any]:
    """fail2ban's aInfo for a Python action: the ban's tags, counts as numbers."""
    info: dict[str, Any] = dict(tags)
    for name in _INTEGERS:
        if name in info:
            info[name] = int(info[name])
    for name in ("time", "bantime"):
        if name in info:
            info[name] = float(info[name])
    return info


class PythonAction(ActionLifecycle):
    """One Python action of one jail, run through fail2ban's life cycle in its helper."""

    def __init__(self, jail: str, config: PythonActionConfig) -> None:
        super().__init__(jail, config.name)
        self.config = config
        self._helper: subprocess.Popen[str] | None = None
        self._features: dict[str, Any] = {}

    def _start(self, family: str) -> bool:
        return self._call({"op": "start"}, "the jail's start")

    def _stop(self, family: str, why: str) -> None:
        self._call({"op": "stop"}, why)

    def _send(self, operation: Operation, tags: dict[str, str], what: str) -> bool:
        return self._call({"op": operation, "info": action_info(tags)}, what)

    def _flush(self, family: str, why: str) -> bool:
        return self._call({"op": "flush"}, why)

    def _reload(self) -> None:
        self._call({"op": "reload"}, "a reload")

    def _can(self, operation: Capability) -> bool:
        # fail2ban's Python actions have no prolong: a changed end only updates what is held.
        return operation != "prolong" and bool(self._features.get(operation))

    def _norestored(self) -> bool:
        return bool(self._features.get("norestored"))

    def _released(self) -> None:
        self._close()

    def _call(self, request: dict[str, Any], what: str) -> bool:
        """Send one request to the helper (started and loaded first); True if it succeeded."""
        if self._helper is None and not self._open():
            return False
        answer = self._exchange(request)
        if answer is None:
            log.error("jail %s: python action %s: %s for %s got no answer within %gs; its "
                      "helper is restarted", self.jail, self.name, request["op"], what,
                      self.config.timeout)
            self._close(kill=True)
            return False
        if not answer.get("ok"):
            log.error("jail %s: python action %s: %s for %s failed: %s", self.jail, self.name,
                      request["op"], what, answer.get("error"))
            return False
        return True

    def _open(self) -> bool:
        python = fail2ban_python()
        if python is None:
            log.error("jail %s: python action %s does not run: no Python with fail2ban's "
                      "package (install Debian's fail2ban)", self.jail, self.name)
            return False
        try:
            self._helper = subprocess.Popen(
                [python, str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, bufsize=1, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        except OSError as problem:
            log.error("jail %s: python action %s: cannot start its helper: %s", self.jail,
                      self.name, problem)
            return False
        config = self.config
        answer = self._exchange({
            "op": "load", "path": config.path, "jail": self.jail, "name": config.name,
            "bantime": -1 if config.bantime is None else config.bantime,
            "options": dict(config.options)})
        if answer is None or not answer.get("ok"):
            log.error("jail %s: python action %s: %s cannot be loaded: %s", self.jail,
                      self.name, config.path, "no answer" if answer is None
                      else answer.get("error"))
            self._close()
            return False
        self._features = answer
        if self.started and not (self._exchange({"op": "start"}) or {}).get("ok"):
            log.error("jail %s: python action %s: start() failed in its new helper",
                      self.jail, self.name)  # a helper started again after a failure
        return True

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """One request and its answer line; None on a timeout or a helper that ended."""
        helper = self._helper
        assert helper is not None and helper.stdin is not None and helper.stdout is not None
        try:
            helper.stdin.write(json.dumps(request) + "\n")
            helper.stdin.flush()
            ready, _, _ = select.select([helper.stdout], [], [], self.config.timeout)
            line = helper.stdout.readline() if ready else ""
        except (OSError, ValueError):
            return None
        if not line:
            return None
        try:
            answer = json.loads(line)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def _close(self, kill: bool = False) -> None:
        """End the helper: at once (`kill`, it hangs) or once it has read its last request."""
        helper, self._helper = self._helper, None
        if helper is None:
            return
        try:
            if kill:
                helper.kill()
            elif helper.stdin is not None:
                helper.stdin.close()
            helper.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            helper.kill()
            helper.wait()
        for stream in (helper.stdin, helper.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
