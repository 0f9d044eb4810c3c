"""fail2ban command actions: actionstart/stop/check/ban/unban run with validated tags.

An Enforcer (not an addon) because expiry reaches only the enforcer: a ban that ends by
itself arrives here as a "remove" change, so actionunban runs exactly when the firewall
lets the address in again. It wraps the native enforcer, which keeps every jail that has
a native firewall action.

Safety: the command text comes from the operator's action.d files and is trusted; the
values put into it at ban time are not. Each is validated for its kind (an address is an
address, a number a number), and a value taken from a log line (<F-USER>, <matches>…) must
consist of characters no shell interprets, or the command is refused and logged, never run.
A command without shell syntax is split with shlex and run without a shell; one that needs
a shell gets every value through shlex.quote (a no-op for values that passed validation).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import shlex
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence

from floodwall.config.model import CommandActionConfig, JailConfig
from floodwall.enforcement.base import ApplyError, Enforcer, JailFirewall
from floodwall.errors import EnforcementError
from floodwall.model import Ban, Change, Failure

log = logging.getLogger("floodwall.enforcement")

Evidence = Callable[[Ban], Sequence[Failure]]
"""The failures behind a ban (for <F-*> and <matches> tags); none when unknown."""

_TAG = re.compile(r"<([^ <>]+)>")
_SHELL_SYNTAX = re.compile(r"""[|&;<>()$`\\"'*?\[\]#~{}!\n]""")
_LOG_SAFE = re.compile(r"^(?:[A-Za-z0-9_@%+=:,./][A-Za-z0-9_@%+=:,./\-]*)?$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,252}$")
_FROM_LOG = frozenset({"matches", "ipmatches", "ipjailmatches"})
_MAX_DEPTH = 10


class RefusedValue(EnforcementError):
    """A value for a tag failed validation; the command is not run."""


def _validated(tag: str, value: str) -> str:
    """The value if it is safe for its tag; RefusedValue otherwise."""
    if tag in ("ip", "fid"):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise RefusedValue(f"<{tag}> {value!r} is not an address") from None
    elif tag in ("failures", "ipfailures", "ipjailfailures", "time", "bantime", "bancount",
                 "restored"):
        if not _NUMBER.match(value):
            raise RefusedValue(f"<{tag}> {value!r} is not a number")
    elif tag in ("family", "fq-hostname", "sh-hostname"):
        if not _NAME.match(value):
            raise RefusedValue(f"<{tag}> {value!r} is not a plain name")
    elif not _LOG_SAFE.match(value):
        raise RefusedValue(f"<{tag}> comes from a log line and holds characters a shell "
                           f"would interpret: {value[:80]!r}")
    return value


def ban_tags(ban: Ban, failures: Sequence[Failure]) -> dict[str, str]:
    """The dynamic tags of a ban, unvalidated: address, counts, times, the failures' fields."""
    address = ipaddress.ip_network(ban.key, strict=False)
    key = ban.key
    tags = {
        "ip": key, "fid": key, "family": "inet6" if address.version == 6 else "inet4",
        "failures": str(ban.count), "ipfailures": str(ban.count),
        "ipjailfailures": str(ban.count), "time": str(int(ban.start)),
        "bantime": "-1" if ban.until is None else str(round(ban.until - ban.start)),
        "bancount": str(ban.step + 1), "restored": "0",
        "fq-hostname": socket.getfqdn(), "sh-hostname": socket.gethostname(),
    }
    lines = "\n".join(failure.text for failure in failures)
    tags.update(matches=lines, ipmatches=lines, ipjailmatches=lines)
    for failure in failures:  # the newest failure's fields win, as in fail2ban's ticket
        for name, value in failure.fields.items():
            tags[f"F-{name.upper()}"] = str(value)
    return tags


class _Template:
    """One command of an action, ready to be filled with a ban's tags."""

    def __init__(self, text: str, static: Mapping[str, str]) -> None:
        self.text = text
        self.static = static

    def argv(self, dynamic: Mapping[str, str]) -> list[str]:
        """The argv to run; RefusedValue if a value put into it is not safe."""
        text = self._expand(self.text, dynamic.get("family", ""), 0)
        if _SHELL_SYNTAX.search(_TAG.sub("", text)):
            return ["/bin/sh", "-c", _fill(text, dynamic, shlex.quote)]
        # Split first, so that no value can ever add or merge arguments.
        return [_fill(word, dynamic, str) for word in shlex.split(text)]

    def _expand(self, text: str, family: str, depth: int) -> str:
        """The text with the action's own options (trusted config) put in, recursively."""
        def replace(match: re.Match[str]) -> str:
            tag = match.group(1)
            value = self.static.get(f"{tag}?family={family}", self.static.get(tag))
            if value is None:
                return match.group(0)
            if depth >= _MAX_DEPTH:
                raise RefusedValue(f"tag <{tag}> refers to itself; fix the action file")
            return self._expand(value, family, depth + 1)
        return _TAG.sub(replace, text)


def _fill(text: str, dynamic: Mapping[str, str], quote: Callable[[str], str]) -> str:
    """The text with the ban's values put in, each validated (and quoted for a shell)."""
    def replace(match: re.Match[str]) -> str:
        tag = match.group(1)
        if tag in dynamic:
            return quote(_validated(tag, dynamic[tag]))
        if tag.startswith("F-"):
            return quote("")  # fail2ban gives an absent field as empty
        return match.group(0)  # not a tag floodwall knows: left as written, as fail2ban does
    return _TAG.sub(replace, text)


def command_argv(text: str, tags: Mapping[str, str]) -> list[str]:
    """The argv of a fail2ban command (operator's text) with `tags` put in, each validated
    for its kind; RefusedValue if one is not safe."""
    return _Template(text, {}).argv(tags)


class _CommandAction:
    """The commands of one action of one jail."""

    def __init__(self, jail: str, config: CommandActionConfig) -> None:
        self.jail = jail
        self.name = config.name
        self.timeout = config.timeout
        static = dict(config.tags)
        self.commands = {name: _Template(text, static) for name, text in config.commands}

    def run(self, command: str, dynamic: Mapping[str, str], what: str) -> bool:
        """Run one command (True if it ran and succeeded); refusals and failures are logged."""
        template = self.commands.get(command)
        if template is None:
            return True
        try:
            argv = template.argv(dynamic)
        except RefusedValue as refused:
            log.error("jail %s: action %s: %s refused for %s, not run: %s", self.jail,
                      self.name, command, what, refused)
            return False
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                    check=False)
        except (OSError, subprocess.TimeoutExpired) as problem:
            log.error("jail %s: action %s: %s for %s failed: %s", self.jail, self.name, command,
                      what, problem)
            return False
        if result.returncode != 0:
            log.error("jail %s: action %s: %s for %s exited with %d: %s", self.jail, self.name,
                      command, what, result.returncode, result.stderr.strip()[-500:])
            return False
        return True


class CommandEnforcer:
    """Runs the jails' fail2ban command actions around a native enforcer."""

    def __init__(self, inner: Enforcer, jails: Sequence[JailConfig], *,
                 evidence: Evidence | None = None) -> None:
        self.inner = inner
        self._evidence = evidence
        self._started: set[str] = set()
        self._banned: dict[str, set[str]] = {}
        self._configs: dict[str, tuple[CommandActionConfig, ...]] = {}
        self._actions: dict[str, list[_CommandAction]] = {}
        self._no_firewall: frozenset[str] = frozenset()
        self.reconfigure(jails)

    def reconfigure(self, jails: Sequence[JailConfig]) -> None:
        """Take the jails of a (re)loaded configuration. A jail whose actions changed or
        went away runs their actionstop now; new and changed ones start at the next setup,
        and the bans then applied reach their actionban again."""
        configs = {jail.name: jail.commands for jail in jails if jail.commands}
        for name in list(self._configs):
            if configs.get(name) == self._configs[name]:
                continue
            if name in self._started:
                for action in self._actions[name]:
                    action.run("actionstop", {}, "a reload")
                self._started.discard(name)
            self._banned.pop(name, None)
        self._configs = configs
        self._actions = {name: [_CommandAction(name, action) for action in commands]
                         for name, commands in configs.items()}
        self._no_firewall = frozenset(jail.name for jail in jails if not jail.firewall)
        for name in self._actions:
            self._banned.setdefault(name, set())

    def setup(self, jails: Sequence[JailFirewall]) -> None:
        """Set up the native firewall, then run actionstart once per action."""
        self.inner.setup([jail for jail in jails if jail.name not in self._no_firewall])
        for name, actions in self._actions.items():
            if name in self._started:
                continue
            self._started.add(name)
            for action in actions:
                action.run("actionstart", {}, "the jail's start")

    def apply(self, changes: Sequence[Change], now: float) -> None:
        """Native changes first; then actionban/actionunban for jails with command actions."""
        native = [change for change in changes if change.ban.jail not in self._no_firewall]
        problem: ApplyError | None = None
        try:
            self.inner.apply(native, now)
        except ApplyError as error:
            problem = error
        for change in changes:
            if change.ban.jail in self._actions:
                self._run(change)
        if problem is not None:
            raise problem

    def elements(self) -> dict[str, list[str]]:
        """The native enforcer's keys, plus the keys banned by command-only jails."""
        found = self.inner.elements()
        for name in self._no_firewall & set(self._actions):
            found[name] = sorted(self._banned[name])
        return found

    def teardown(self) -> None:
        """Run actionstop of every started action, then tear the native firewall down."""
        for name in sorted(self._started):
            for action in self._actions[name]:
                action.run("actionstop", {}, "the jail's stop")
        self._started.clear()
        self.inner.teardown()

    def _run(self, change: Change) -> None:
        ban = change.ban
        banned = self._banned[ban.jail]
        if change.action == "remove":
            if ban.key not in banned:
                return
            banned.discard(ban.key)
            command = "actionunban"
        elif ban.key in banned:
            command = "actionprolong"  # extended (run only where the action defines it)
        else:
            banned.add(ban.key)
            command = "actionban"
        failures = self._evidence(ban) if self._evidence is not None else ()
        try:
            dynamic = ban_tags(ban, failures)
        except ValueError:
            log.error("jail %s: %s refused: key %r is not an address", ban.jail, command,
                      ban.key)
            return
        what = f"{ban.key}"
        for action in self._actions[ban.jail]:
            if command == "actionprolong" and command not in action.commands:
                continue
            if command == "actionban" and "actioncheck" in action.commands and not action.run(
                    "actioncheck", dynamic, what):
                action.run("actionstart", {}, "a failed actioncheck")
            action.run(command, dynamic, what)
