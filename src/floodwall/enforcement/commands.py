"""fail2ban command actions, run through fail2ban's life cycle with validated tags.

An Enforcer (not an addon) because expiry reaches only the enforcer: a ban that ends by
itself arrives here as a "remove" change, so actionunban runs exactly when the firewall
lets the address in again. It wraps the native enforcer, which keeps every jail that has
a native firewall action.

Safety: the command text comes from the operator's action.d files and is trusted; the
values put into it at ban time are not. A value of a known kind is validated for it (an
address is an address, a number a number) or the command is refused. A value taken from a
log line (<F-USER>, <matches>…) may hold anything, and is never read as shell syntax:
- a command without shell syntax is split with shlex first and run without a shell, so a
  value is part of one argument and can never add, merge or split arguments;
- a command that needs a shell gets such a value as an environment variable, referred to
  where the tag stood ("${FLOODWALL_VALUE_1}", quoted as the text around it needs), so the
  shell expands it once and never evaluates it;
- where the tag follows a `/` (a path), its `/` are written %2F and a bare `.` or `..` as
  %2E…, so it names one file in that directory and cannot leave it.
Every ban is thus handed to the action, whatever the attacker chose to be called.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import re
import shlex
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence

from floodwall.enforcement.action_runner import ActionRunner
from floodwall.enforcement.base import ApplyError, Enforcer, JailFirewall
from floodwall.enforcement.lifecycle import ActionLifecycle, Capability, Operation
from floodwall.enforcement.python_actions import PythonAction
from floodwall.errors import EnforcementError
from floodwall.model import Ban, Change, Failure
from floodwall.settings.values import CommandActionConfig, JailConfig, PythonActionConfig

log = logging.getLogger("floodwall.enforcement")

Evidence = Callable[[Ban], Sequence[Failure]]
"""The failures behind a ban (for <F-*> and <matches> tags); none when unknown."""

_TAG = re.compile(r"<([^ <>]+)>")
_SHELL_SYNTAX = re.compile(r"""[|&;<>()$`\\"'*?\[\]#~{}!\n]""")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,252}$")
_ADDRESSES = frozenset({"ip", "fid"})
_NUMBERS = frozenset({"failures", "ipfailures", "ipjailfailures", "time", "bantime",
                      "bancount", "restored"})
_NAMES = frozenset({"family", "fq-hostname", "sh-hostname"})
_MAX_DEPTH = 10
_VARIABLE = "FLOODWALL_VALUE_{}"
"""Environment variables that carry log text to a shell command."""


class RefusedValue(EnforcementError):
    """A value for a tag failed validation; the command is not run."""


def _is_log_text(tag: str) -> bool:
    """Whether a tag's value is text from a log line (anything an attacker wrote)."""
    return tag not in _ADDRESSES and tag not in _NUMBERS and tag not in _NAMES


def _validated(tag: str, value: str) -> str:
    """The value of a typed tag if it is what its kind says; RefusedValue otherwise."""
    if tag in _ADDRESSES:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise RefusedValue(f"<{tag}> {value!r} is not an address") from None
    elif tag in _NUMBERS:
        if not _NUMBER.match(value):
            raise RefusedValue(f"<{tag}> {value!r} is not a number")
    elif tag in _NAMES and not _NAME.match(value):
        raise RefusedValue(f"<{tag}> {value!r} is not a plain name")
    return value


def _log_value(value: str, in_path: bool) -> str:
    """Log text as it may reach a command: no NUL (no argument or variable can hold one);
    after a `/`, one file name that cannot leave its directory."""
    value = value.replace("\x00", "\ufffd")
    if in_path:
        value = value.replace("%", "%25").replace("/", "%2F")
        if value in (".", ".."):
            value = value.replace(".", "%2E")
    return value


def ban_tags(ban: Ban, failures: Sequence[Failure], restored: bool = False) -> dict[str, str]:
    """The dynamic tags of a ban, unvalidated: address, counts, times, the failures' fields."""
    address = ipaddress.ip_network(ban.key, strict=False)
    key = ban.key
    tags = {
        "ip": key, "fid": key, "family": "inet6" if address.version == 6 else "inet4",
        "failures": str(ban.count), "ipfailures": str(ban.count),
        "ipjailfailures": str(ban.count), "time": str(int(ban.start)),
        "bantime": "-1" if ban.until is None else str(round(ban.until - ban.start)),
        "bancount": str(ban.step + 1), "restored": "1" if restored else "0",
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

    def command(self, dynamic: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        """The argv to run and the variables to add to its environment; RefusedValue if a
        typed value is not of its kind."""
        text = self._expand(self.text, dynamic.get("family", ""), 0)
        if _SHELL_SYNTAX.search(_TAG.sub("", text)):
            script, variables = _shell_fill(text, dynamic)
            return ["/bin/sh", "-c", script], variables
        # Split first, so that no value can ever add or merge arguments.
        return [_fill(word, dynamic) for word in shlex.split(text)], {}

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


def _value(tag: str, dynamic: Mapping[str, str]) -> str | None:
    """A tag's value (fail2ban gives an absent field as empty); None: not a ban's tag."""
    if tag in dynamic:
        return dynamic[tag]
    return "" if tag.startswith("F-") else None


def _fill(word: str, dynamic: Mapping[str, str]) -> str:
    """One argument with the ban's values put in (typed ones validated)."""
    def replace(match: re.Match[str]) -> str:
        tag = match.group(1)
        value = _value(tag, dynamic)
        if value is None:
            return match.group(0)  # not a tag floodwall knows: left as written, as fail2ban
        if not _is_log_text(tag):
            return _validated(tag, value)
        return _log_value(value, word[:match.start()].endswith("/"))
    return _TAG.sub(replace, word)


def _shell_fill(text: str, dynamic: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """A shell script with the ban's values put in: typed ones validated (and quoted where
    no quotes surround them), log text as references to environment variables, written
    for the quotes around the tag; and those variables."""
    variables: dict[str, str] = {}
    out: list[str] = []
    quote = ""  # the quote the text is inside of at this point: "", "'" or '"'
    index = 0
    while index < len(text):
        char = text[index]
        match = _TAG.match(text, index) if char == "<" else None
        value = _value(match.group(1), dynamic) if match else None
        if match is not None and value is not None:
            tag = match.group(1)
            if _is_log_text(tag):
                name = _VARIABLE.format(len(variables) + 1)
                variables[name] = _log_value(value, "".join(out).endswith("/"))
                out.append({"": f'"${{{name}}}"', '"': f"${{{name}}}",
                            "'": f"'\"${{{name}}}\"'"}[quote])
            else:
                safe = _validated(tag, value)
                out.append(shlex.quote(safe) if not quote else safe)
            index = match.end()
            continue
        if char == "\\" and quote != "'":  # an escaped character changes no quoting
            out.append(text[index:index + 2])
            index += 2
            continue
        if char in "'\"" and quote in ("", char):
            quote = "" if quote else char
        out.append(char)
        index += 1
    return "".join(out), variables


def command_line(text: str, tags: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv of a fail2ban command (operator's text) with `tags` put in, and the
    variables to add to its environment; RefusedValue if a typed value is not of its kind."""
    return _Template(text, {}).command(tags)


class _CommandAction(ActionLifecycle):
    """The commands of one action of one jail, run through fail2ban's life cycle, each
    ban-time command as fail2ban's CommandAction runs it (check, repair, retry)."""

    def __init__(self, jail: str, config: CommandActionConfig) -> None:
        super().__init__(jail, config.name)
        self.timeout = config.timeout
        self.norestored = config.norestored
        self.on_demand = config.start_on_demand
        self.repair_on_unban = config.repair_on_unban
        static = dict(config.tags)
        self.commands = {name: _Template(text, static) for name, text in config.commands}

    def _start(self, family: str) -> bool:
        return self.run("actionstart", self._family_tags(family), "the jail's start")

    def _stop(self, family: str, why: str) -> None:
        self.run("actionstop", self._family_tags(family), why)

    def _send(self, operation: Operation, tags: dict[str, str], what: str) -> bool:
        return self._process(f"action{operation}", tags, what)

    def _flush(self, family: str, why: str) -> bool:
        return self.run("actionflush", self._family_tags(family), why)

    def _reload(self) -> None:
        self.run("actionreload", {}, "a reload")

    def _can(self, operation: Capability) -> bool:
        return f"action{operation}" in self.commands

    def _norestored(self) -> bool:
        return self.norestored

    def run(self, command: str, dynamic: Mapping[str, str], what: str) -> bool:
        """Run one command (True if it ran and succeeded); refusals and failures are logged."""
        template = self.commands.get(command)
        if template is None:
            return True
        try:
            argv, variables = template.command(dynamic)
        except RefusedValue as refused:
            log.error("jail %s: action %s: %s refused for %s, not run: %s", self.jail,
                      self.name, command, what, refused)
            return False
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                    check=False, env={**os.environ, **variables} if variables
                                    else None)
        except (OSError, subprocess.TimeoutExpired) as problem:
            log.error("jail %s: action %s: %s for %s failed: %s", self.jail, self.name, command,
                      what, problem)
            return False
        if result.returncode != 0:
            log.error("jail %s: action %s: %s for %s exited with %d: %s", self.jail, self.name,
                      command, what, result.returncode, result.stderr.strip()[-500:])
            return False
        return True

    def _family_tags(self, family: str) -> dict[str, str]:
        return {"family": family} if family else {}

    def _process(self, command: str, tags: dict[str, str], what: str) -> bool:
        """Run a ban-time command as fail2ban does: if it fails and the action has an
        actioncheck, check the environment, repair it when broken (actionrepair, or
        actionstop + actionstart), then run the command once more."""
        if self.run(command, tags, what):
            return True
        if "actioncheck" not in self.commands:
            return False
        family = tags.get("family", "") if self.on_demand else ""
        if not self.run("actioncheck", tags, what):
            if command == "actionunban" and not self.repair_on_unban:
                log.error("jail %s: action %s: actioncheck failed, %s for %s impossible "
                          "(set actionrepair_on_unban to repair first)", self.jail, self.name,
                          command, what)
                return False
            if not self._repair(family, tags, what):
                return False
        return self.run(command, tags, what)

    def _repair(self, family: str, tags: dict[str, str], what: str) -> bool:
        """Restore a broken environment, check it again, and ban again every key it held."""
        log.error("jail %s: action %s: actioncheck failed, restoring a sane environment",
                  self.jail, self.name)
        if "actionrepair" in self.commands:
            if not self.run("actionrepair", tags, what):
                self.started.discard(family)
                log.critical("jail %s: action %s: unable to restore the environment",
                             self.jail, self.name)
                return False
            self.started.add(family)
        else:
            self._stop(family, what)
            self.started.discard(family)
            self._begin(family)
        if not self.run("actioncheck", tags, what):
            log.critical("jail %s: action %s: unable to restore the environment", self.jail,
                         self.name)
            return False
        reban = "actionreban" if "actionreban" in self.commands else "actionban"
        for key, (_, held) in list(self.banned.items()):
            if key != what and (not self.on_demand or held.get("family") == family):
                self.run(reban, held, key)
        return True


class CommandEnforcer:
    """Runs the jails' fail2ban command actions around a native enforcer.

    The native firewall changes are applied at once; each jail's action calls (start, ban,
    unban, reload, stop) go to an ActionRunner, which runs them in order per jail off the
    daemon's loop, so `apply` returns without waiting for commands. `settle` waits for
    them; `close` and `teardown` run everything queued before they return.
    """

    def __init__(self, inner: Enforcer, jails: Sequence[JailConfig], *,
                 evidence: Evidence | None = None) -> None:
        self.inner = inner
        self._evidence = evidence
        self._runner = ActionRunner()
        self._banned: dict[str, set[str]] = {}
        self._configs: dict[str, tuple[CommandActionConfig | PythonActionConfig, ...]] = {}
        self._actions: dict[str, list[_CommandAction | PythonAction]] = {}
        self._no_firewall: frozenset[str] = frozenset()
        self.reconfigure(jails)

    def reconfigure(self, jails: Sequence[JailConfig]) -> None:
        """Take the jails of a (re)loaded configuration. A jail whose actions changed or
        went away has its bans lifted and its actions stopped now; new and changed ones
        start at the next setup, and the bans then applied reach their actionban again.
        Unchanged actions keep running and get their actionreload."""
        configs = {jail.name: jail.commands for jail in jails if jail.commands}
        actions: dict[str, list[_CommandAction | PythonAction]] = {}
        for name, running in self._actions.items():
            if configs.get(name) == self._configs[name]:
                actions[name] = running
                for action in running:
                    self._runner.submit(name, action.reload)
                continue
            for action in reversed(running):
                self._runner.submit(name, functools.partial(action.release, "a reload"))
            self._banned.pop(name, None)
        for name, commands in configs.items():
            actions.setdefault(name, [
                _CommandAction(name, action) if isinstance(action, CommandActionConfig)
                else PythonAction(name, action) for action in commands])
            self._banned.setdefault(name, set())
        self._configs, self._actions = configs, actions
        self._no_firewall = frozenset(jail.name for jail in jails if not jail.firewall)

    def setup(self, jails: Sequence[JailFirewall]) -> None:
        """Set up the native firewall, then start the actions not yet started."""
        self.inner.setup([jail for jail in jails if jail.name not in self._no_firewall])
        for name, actions in self._actions.items():
            for action in actions:
                self._runner.submit(name, action.start)

    def rebuild(self, jails: Sequence[JailFirewall], changes: Sequence[Change],
                now: float) -> None:
        """Rebuild the native firewall with its bans in one step, start the actions not yet
        started, then run actionban for the jails with command actions."""
        problem: ApplyError | None = None
        try:
            self.inner.rebuild([jail for jail in jails if jail.name not in self._no_firewall],
                               [change for change in changes
                                if change.ban.jail not in self._no_firewall], now)
        except ApplyError as error:
            problem = error
        for name, actions in self._actions.items():
            for action in actions:
                self._runner.submit(name, action.start)
        for change in changes:
            if change.ban.jail in self._actions:
                self._run(change)
        if problem is not None:
            raise problem

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

    def not_enforcing(self) -> dict[tuple[str, str], list[str]]:
        """(jail, key) -> the actions whose last ban of it failed (it is not enforced by
        them)."""
        found: dict[tuple[str, str], list[str]] = {}
        for name, actions in self._actions.items():
            for action in actions:
                for key in action.failing.copy():  # copied at once: actions run on threads
                    found.setdefault((name, key), []).append(action.name)
        return found

    def failures(self) -> dict[str, int]:
        """Per jail with actions, its ban-time action calls that failed since start."""
        return {name: sum(action.failures for action in actions)
                for name, actions in self._actions.items()}

    def pending(self) -> dict[str, int]:
        """Per jail with command actions, its action calls queued and not yet finished."""
        return self._runner.pending()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until every action call queued so far has run (at most `timeout` seconds);
        whether they all have."""
        return self._runner.settle(timeout)

    def close(self) -> None:
        """The daemon stops: lift the command actions' bans and stop them, as fail2ban's
        stop does (the native firewall keeps its bans); restored at the next start."""
        self._release_all("the daemon's stop")
        self.inner.close()

    def teardown(self) -> None:
        """Lift the command actions' bans and stop them, then tear the native firewall down."""
        self._release_all("the jail's stop")
        self.inner.teardown()

    def _release_all(self, why: str) -> None:
        """Queue every action's release, then run all that is queued and end the threads."""
        for name in sorted(self._actions):
            for action in reversed(self._actions[name]):
                self._runner.submit(name, functools.partial(action.release, why))
            self._banned[name] = set()
        runner, self._runner = self._runner, ActionRunner()
        runner.close()

    def _run(self, change: Change) -> None:
        ban = change.ban
        banned = self._banned[ban.jail]
        actions = self._actions[ban.jail]
        if change.action == "remove":
            banned.discard(ban.key)
            for action in actions:
                self._runner.submit(ban.jail, functools.partial(action.unban, ban.key))
            return
        failures = self._evidence(ban) if self._evidence is not None else ()
        try:
            tags = ban_tags(ban, failures, restored=change.restored)
        except ValueError:
            log.error("jail %s: actionban refused: key %r is not an address", ban.jail, ban.key)
            return
        banned.add(ban.key)
        for action in actions:
            self._runner.submit(ban.jail, functools.partial(action.ban, ban, tags,
                                                             change.restored))
