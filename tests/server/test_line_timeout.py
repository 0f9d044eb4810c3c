"""A regex that backtracks without end on a line an attacker wrote (a fail2ban filter's, or a
native access rule's path): the daemon's ban path skips that line after line_timeout, names
the regex, and goes on banning. Lines are fed to the ban path directly on a manual clock;
the deadline itself is real time."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from floodwall.config.loader import load_config
from tests.support import fail2ban_dir
from tests.support.configs import load
from tests.support.daemons import FedDaemon, fed_daemon
from tests.support.lines import T0, access_line

REASON = fail2ban_dir.skip_reason()


def _the_one_report(caplog: pytest.LogCaptureFixture) -> str:
    """The one timed-out-line report logged so far."""
    reports = [r.getMessage() for r in caplog.records if "took more than" in r.getMessage()]
    assert len(reports) == 1, reports
    return reports[0]


def _jail_status(fed: FedDaemon, name: str) -> dict[str, object]:
    return next(j for j in fed.daemon.status()["jails"] if j["name"] == name)


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_a_catastrophic_line_is_skipped_reported_and_banning_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fail2ban_dir.copy_config(tmp_path / "fail2ban", fail2ban_dir.SLOW_JAIL.format(root=tmp_path),
                             {"filter.d/slow.conf": fail2ban_dir.SLOW_FILTER})
    config = load_config(fail2ban_dir.floodwall_toml(tmp_path))  # line_timeout: 0.25 s
    log = tmp_path / "app.log"
    with caplog.at_level(logging.ERROR), fed_daemon(config, start=T0 + 10) as fed:
        fed.feed(log, fail2ban_dir.slow_line("192.0.2.9", T0 + 1, evil=True)
                 + fail2ban_dir.slow_line("192.0.2.9", T0 + 2))
        fed.feed(log, fail2ban_dir.slow_line("192.0.2.7", T0 + 3)
                 + fail2ban_dir.slow_line("192.0.2.7", T0 + 4), first_line=3)
        assert fed.banned("slow") == ["192.0.2.7"]  # the honest attacker
        jail = _jail_status(fed, "slow")
        assert jail["lines_timed_out"] == 1
        assert jail["failures"] == 3  # the interrupted line counted for nothing
        assert not fed.daemon.bans.ledger.is_banned("slow", "192.0.2.9", fed.clock.now())
    report = _the_one_report(caplog)
    assert f"{log} line 1 took more than 0.25s" in report
    assert report.endswith(
        r"Slow on it: failregex = slow\[\d+\]: bad login from <HOST>(?: (\w+\s?)+!)?$")
    assert "filter.d/slow.conf" in report


def test_an_access_rule_path_regex_that_backtracks_is_bounded_too(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "access.log"
    config = load(tmp_path, {"web": {"logpath": [log], "status": [404], "path": "^/(a+)+$",
                                     "maxretry": 2}})

    def request(client: str, path: str) -> str:
        return access_line(client, path, when=T0 + 1)

    with caplog.at_level(logging.ERROR), fed_daemon(config, start=T0 + 10) as fed:
        # The attacker's path makes '^/(a+)+$' try 2^40 ways to fail.
        fed.feed(log, request("192.0.2.9", "/" + "a" * 40 + "b") + request("192.0.2.9", "/aa"))
        fed.feed(log, request("192.0.2.7", "/a") + request("192.0.2.7", "/aaa"), first_line=3)
        assert fed.banned("web") == ["192.0.2.7"]  # the honest attacker
        jail = _jail_status(fed, "web")
        assert jail["lines_timed_out"] == 1 and jail["failures"] == 3
    report = _the_one_report(caplog)
    assert f"{log} line 1 took more than 0.25s in its access rule" in report
    assert report.endswith("Slow on it: path = ^/(a+)+$")
