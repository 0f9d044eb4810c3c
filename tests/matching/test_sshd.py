"""Tests of the sshd filter: attempts, not lines; the address is sshd's own, never the user's."""

from __future__ import annotations

from floodwall.matching.entries import EntryParser
from floodwall.matching.sshd import SshdFilter
from floodwall.model import Failure, SourceLine

NOW = 1_772_500_000.0  # 2026-03-03


def _run(lines: list[str]) -> list[Failure]:
    parser = EntryParser([], syslog=True)
    sshd = SshdFilter("sshd")
    failures: list[Failure] = []
    for number, text in enumerate(lines, start=1):
        failures.extend(sshd.failures(parser.parse(SourceLine("/auth.log", number, text), NOW)))
    return failures


def _attempt_as_openssh_logs_it(second: int, pid: int, user: str = "admin") -> list[str]:
    stamp = f"Mar  2 08:{second // 60:02d}:{second % 60:02d} web1"
    return [
        f"{stamp} sshd[{pid}]: Invalid user {user} from 203.0.113.5 port 51234",
        f"{stamp} sshd[{pid}]: pam_unix(sshd:auth): check pass; user unknown",
        (f"{stamp} sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 "
        f"euid=0 tty=ssh ruser= rhost=203.0.113.5"),
        (f"{stamp} sshd[{pid}]: Failed password for invalid user {user} from 203.0.113.5 "
        f"port 51234 ssh2"),
        (f"{stamp} sshd[{pid}]: Disconnected from invalid user {user} 203.0.113.5 port 51234 "
        "[preauth]"),
    ]


def test_one_multi_line_attempt_counts_once() -> None:
    failures = _run(_attempt_as_openssh_logs_it(1, 4000))
    assert [(f.key, f.lineno, f.fields["user"]) for f in failures] == [
        ("203.0.113.5", 4, "admin")]


def test_failed_password_publickey_and_several_attempts_per_connection() -> None:
    failures = _run([
        "Mar  2 08:00:01 web1 sshd[10]: Failed password for root from 198.51.100.4 port 1 ssh2",
        "Mar  2 08:00:03 web1 sshd[10]: Failed password for root from 198.51.100.4 port 1 ssh2",
        ("Mar  2 08:00:04 web1 sshd[10]: error: maximum authentication attempts exceeded for "
        "root from 198.51.100.4 port 1 ssh2 [preauth]"),
        ("Mar  2 08:00:05 web1 sshd[11]: Failed publickey for git from 2001:db8::7 port 2 ssh2: "
        "RSA SHA256:abcdef"),
        ("Mar  2 08:00:06 web1 sshd[12]: Accepted publickey for deploy from 198.51.100.9 port 3 "
        "ssh2: ED25519 SHA256:xyz"),
        "Mar  2 08:00:07 web1 sshd[13]: Connection closed by 198.51.100.8 port 4 [preauth]",
    ])
    assert [(f.key, f.fields["method"]) for f in failures] == [
        ("198.51.100.4", "password"), ("198.51.100.4", "password"), ("2001:db8::7", "publickey")]


def test_invalid_user_that_never_tries_counts_at_close() -> None:
    failures = _run([
        "Mar  2 08:00:01 web1 sshd[20]: Invalid user oracle from 203.0.113.8 port 5",
        ("Mar  2 08:00:02 web1 sshd[20]: Connection closed by invalid user oracle 203.0.113.8 "
        "port 5 [preauth]"),
    ])
    assert [(f.key, f.lineno, f.fields["user"]) for f in failures] == [("203.0.113.8", 2, "oracle")]


def test_addresses_in_user_names_are_never_the_key() -> None:
    failures = _run([
        "Mar  2 08:00:01 web1 sshd[30]: Invalid user 192.0.2.99 from 203.0.113.9 port 6",
        ("Mar  2 08:00:01 web1 sshd[30]: Failed password for invalid user 192.0.2.99 "
        "from 203.0.113.9 port 6 ssh2"),
        ("Mar  2 08:00:02 web1 sshd[31]: Failed password for invalid user x from 192.0.2.98 "
        "port 1 from 203.0.113.9 port 7 ssh2"),
        ("Mar  2 08:00:03 web1 sshd[32]: Invalid user y from 192.0.2.97 port 9 from 203.0.113.9 "
        "port 8"),
        ("Mar  2 08:00:03 web1 sshd[32]: Disconnected from invalid user y from 192.0.2.97 port 9 "
        "203.0.113.9 port 8 [preauth]"),
    ])
    assert {f.key for f in failures} == {"203.0.113.9"} and len(failures) == 3


def test_other_programs_and_garbage_are_ignored() -> None:
    failures = _run([
        "Mar  2 08:00:01 web1 CRON[99]: Failed password for root from 198.51.100.1 port 1 ssh2",
        "Mar  2 08:00:01 web1 sshd[1]: Failed password for root from not-an-ip port 1 ssh2",
        "garbage \udcff\x00",
        "",
    ])
    assert failures == []


def test_slow_guesser_four_attempts_per_ten_minutes_is_four_failures_per_window() -> None:
    lines = []
    for attempt in range(4):
        lines += _attempt_as_openssh_logs_it(attempt * 150, 5000 + attempt)
    failures = _run(lines)
    assert len(failures) == 4 and len(lines) == 20
