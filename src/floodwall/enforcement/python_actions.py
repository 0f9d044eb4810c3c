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

from floodwall.config.model import PythonActionConfig
from floodwall.model import Ban

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


class PythonAction:
    """One Python action of one jail, and what it has started and banned."""

    def __init__(self, jail: str, config: PythonActionConfig) -> None:
        self.jail = jail
        self.name = config.name
        self.config = config
        self.started: set[str] = set()
        """{""} once the action's start() ran."""
        self.banned: dict[str, tuple[Ban, dict[str, str]]] = {}
        """Key -> the ban as this action last got it, and its tags (unban gets the same)."""
        self._helper: subprocess.Popen[str] | None = None
        self._features: dict[str, Any] = {}

    def start(self) -> None:
        """The action's start() at the jail's start."""
        if "" not in self.started and self._call({"op": "start"}, "the jail's start"):
            self.started.add("")

    def ban(self, ban: Ban, tags: dict[str, str], restored: bool) -> None:
        """The action's ban() for a key new to it (a changed end only updates what it holds)."""
        if ban.key in self.banned:
            self.banned[ban.key] = (ban, tags)
            return
        if restored and self._features.get("norestored"):
            return
        self.banned[ban.key] = (ban, tags)
        self._call({"op": "ban", "info": action_info(tags)}, ban.key)

    def unban(self, key: str) -> None:
        """The action's unban() for a key it banned."""
        known = self.banned.pop(key, None)
        if known is not None:
            self._call({"op": "unban", "info": action_info(known[1])}, key)

    def reload(self) -> None:
        """The action's reload(), where its class has one."""
        if self.started and self._features.get("reload"):
            self._call({"op": "reload"}, "a reload")

    def release(self, why: str) -> None:
        """Lift every ban (flush() where the class has it, else unban() each), then stop()."""
        if self.banned and self.started and self._features.get("flush") and self._call(
                {"op": "flush"}, why):
            self.banned.clear()
        for key in list(self.banned):
            self.unban(key)
        if self.started:
            self._call({"op": "stop"}, why)
            self.started.clear()
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
