"""Access-log jails: a condition on the fields of each line; the key is the client field only."""

from __future__ import annotations

from floodwall.addresses import normalise_address
from floodwall.config.model import AccessRule
from floodwall.matching.entries import Entry
from floodwall.matching.filters import Requirement
from floodwall.matching.prefilter import Condition
from floodwall.model import Failure


class AccessFilter:
    """Counts lines whose method, status, path and vhost meet the jail's rule."""

    wants_access = True
    wants_syslog = False
    wants_time = False
    requires: Requirement = "access"
    timeouts = 0  # its own regexes run in linear time: never interrupted

    def __init__(self, jail: str, rule: AccessRule, *, known_format: bool = True) -> None:
        self.jail = jail
        self.rule = rule
        self.necessary = self._necessary(rule, known_format)

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
        if rule.path is not None and not rule.path.search(record.path):
            return []
        if rule.path_not is not None and rule.path_not.search(record.path):
            return []
        if rule.vhost is not None and not (record.vhost and rule.vhost.search(record.vhost)):
            return []
        # The key is the logged client and nothing else: addresses written into the URL,
        # user, referer or user agent are attacker text and never become keys.
        key = normalise_address(record.client)
        if key is None:
            return []
        line = entry.line
        return [Failure(self.jail, key, record.time, line.path, line.lineno, line.text,
                        {"method": record.method, "status": record.status,
                         "path": record.path, "vhost": record.vhost})]
