"""fail2ban's ignorecommand: a command asked, before a ban, whether to leave an address be."""

from __future__ import annotations

import logging
import subprocess
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from floodwall.enforcement.commands import RefusedValue, command_line
from floodwall.settings.values import JailConfig

log = logging.getLogger("floodwall.enforcement")

TIMEOUT_SECONDS = 10.0
"""How long the command may take; past it the address is banned as if it answered 1."""
DEFAULT_CACHE = (10_000, 300.0)
"""(answers kept, seconds each) without fail2ban's ignorecache: an answer is reused for the
same address for 5 minutes."""


class IgnoreCommand:
    """One jail's ignorecommand. `<ip>` (and `<fid>`) hold the address, validated; the
    command runs without a shell unless its own text needs one (then quoted). Exit 0 means
    ignore the address, 1 ban it, anything else is an error (logged; the address is banned,
    as fail2ban does)."""

    def __init__(self, jail: str, text: str, *, timeout: float = TIMEOUT_SECONDS,
                 cache: tuple[int, float] = DEFAULT_CACHE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.jail = jail
        self.text = text
        """The command as configured."""
        self._timeout = timeout
        self._clock = clock
        self._max_answers, self._answer_seconds = cache
        self._answers: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self.runs = 0
        """Times the command was run."""

    def ignores(self, key: str) -> bool:
        """Whether the command says to leave `key` be (an answer is reused until it expires;
        when the cache is full the oldest answers go first, as in fail2ban's cache)."""
        now = self._clock()
        answers = self._answers
        answer = answers.get(key)
        if answer is not None and answer[1] > now:
            return answer[0]
        answers.pop(key, None)
        ignored = self._ask(key)
        while len(answers) >= self._max_answers:
            answers.popitem(last=False)
        answers[key] = (ignored, now + self._answer_seconds)
        return ignored

    def _ask(self, key: str) -> bool:
        try:
            argv, _ = command_line(self.text, {"ip": key, "fid": key})  # typed tags only
        except RefusedValue as refused:
            log.error("jail %s: ignorecommand refused for %s, not run: %s", self.jail, key,
                      refused)
            return False
        self.runs += 1
        try:
            result = subprocess.run(argv, capture_output=True, text=True,
                                    timeout=self._timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as problem:
            log.error("jail %s: ignorecommand for %s failed: %s", self.jail, key, problem)
            return False
        if result.returncode not in (0, 1):
            log.error("jail %s: ignorecommand for %s exited with %d: %s", self.jail, key,
                      result.returncode, result.stderr.strip()[-300:])
        return result.returncode == 0


def ignore_commands(jails: Iterable[JailConfig]) -> dict[str, IgnoreCommand]:
    """The ignorecommand of each jail that has one, by jail name (for the ban policy)."""
    return {jail.name: IgnoreCommand(jail.name, jail.ignorecommand,
                                     cache=jail.ignorecache or DEFAULT_CACHE)
            for jail in jails if jail.ignorecommand}
