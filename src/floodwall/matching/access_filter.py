"""Access-log jails: a condition on the fields of each line; the key is the client field only."""

from __future__ import annotations

from floodwall.addresses import normalise_address
from floodwall.matching.deadline import LineDeadline, LineTimeout, SlowLines, Trial
from floodwall.matching.entries import Entry
from floodwall.matching.filters import Requirement
from floodwall.matching.prefilter import Condition
from floodwall.model import Failure
from floodwall.settings.values import AccessRule


class AccessFilter:
    """Counts lines whose method, status, path and vhost meet the jail's rule."""

    wants_access = True
    wants_syslog = False
    wants_time = False
    requires: Requirement = "access"

    def __init__(self, jail: str, rule: AccessRule, *, known_format: bool = True,
                 deadline: LineDeadline | None = None) -> None:
        self.jail = jail
        self.rule = rule
        self.necessary = self._necessary(rule, known_format)
        self.deadline = deadline or LineDeadline(None)
        """Bounds the time the rule's regexes may take on a line (an operator's path regex
        that backtracks without end on a path an attacker chose)."""
        self._slow = SlowLines(jail, self.deadline)

    @property
    def timeouts(self) -> int:
        """Lines interrupted for taking longer than the deadline's limit (they count nothing)."""
        return self._slow.count

    @staticmethod
    def _necessary(rule: AccessRule, known_format: bool) -> Condition | None:
        """What a matching line must contain. In every known format the request is quoted
        and the status follows it: `"GET /x HTTP/1.1" 404 `. Custom formats get no prefilter."""
        if not known_format:
            return None
        groups: list[tuple[str, ...]] = []
        if rule.statuses:  # first: the most selective (see prefilter.py)
            groups.append(tuple(f'" {status} ' for status in sorted(rule.statuses)))
        if rule.methods:
            groups.append(tuple(f'"{method} ' for method in sorted(rule.methods)))
        return tuple(groups)

    def failures(self, entry: Entry) -> list[Failure]:
        """One failure if the line meets the rule and its client is an IP address."""
        record = entry.access
        if record is None:
            return []
        rule = self.rule
        if rule.methods is not None and record.method not in rule.methods:
            return []
        if rule.statuses is not None and record.status not in rule.statuses:
            return []
        if rule.path is not None or rule.path_not is not None or rule.vhost is not None:
            deadline = self.deadline
            deadline.enter()
            try:
                if not self._regexes_hold(record.path, record.vhost):
                    return []
            except LineTimeout:
                line = entry.line
                self._slow.record(line.path, line.lineno, "its access rule",
                                  lambda: self._trials(record.path, record.vhost))
                return []
            finally:
                deadline.leave()
        # The key is the logged client and nothing else: addresses written into the URL,
        # user, referer or user agent are attacker text and never become keys.
        key = normalise_address(record.client)
        if key is None:
            return []
        line = entry.line
        return [Failure(self.jail, key, record.time, line.path, line.lineno, line.text,
                        {"method": record.method, "status": record.status,
                         "path": record.path, "vhost": record.vhost})]

    def _regexes_hold(self, path: str, vhost: str | None) -> bool:
        rule = self.rule
        if rule.path is not None and not rule.path.search(path):
            return False
        if rule.path_not is not None and rule.path_not.search(path):
            return False
        return rule.vhost is None or bool(vhost and rule.vhost.search(vhost))

    def _trials(self, path: str, vhost: str | None) -> list[Trial]:
        """The rule's regexes with the text each searches, to find the slow one."""
        rule = self.rule
        trials = [(option, pattern.pattern, pattern, path) for option, pattern in
                  (("path", rule.path), ("path_not", rule.path_not)) if pattern is not None]
        if rule.vhost is not None and vhost:
            trials.append(("vhost", rule.vhost.pattern, rule.vhost, vhost))
        return trials
