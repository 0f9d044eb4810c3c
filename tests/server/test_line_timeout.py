"""A regex that backtracks without end on a line an attacker wrote (a fail2ban filter's, or a
native access rule's path): the daemon skips that line after line_timeout, names the regex,
and goes on banning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from floodwall.config.loader import load_config
from floodwall.server.daemon import Daemon
from tests.support import fail2ban_dir
from tests.support.waiting import until

REASON = fail2ban_dir.skip_reason()


def _the_one_report(caplog: pytest.LogCaptureFixture,
                    main: Callable[[], Coroutine[Any, Any, None]]) -> str:
    """Run the daemon scenario `main`; the one timed-out-line report it logged."""
    with caplog.at_level(logging.ERROR):
        asyncio.run(asyncio.wait_for(main(), timeout=60))
    reports = [r.getMessage() for r in caplog.records if "took more than" in r.getMessage()]
    assert len(reports) == 1, reports
    return reports[0]


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_a_catastrophic_line_is_skipped_reported_and_banning_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fail2ban_dir.copy_config(tmp_path / "fail2ban", fail2ban_dir.SLOW_JAIL.format(root=tmp_path),
                             {"filter.d/slow.conf": fail2ban_dir.SLOW_FILTER})
    fail2ban_dir.floodwall_toml(tmp_path)  # line_timeout: the default, 0.25 s
    log = tmp_path / "app.log"
    log.write_text(fail2ban_dir.slow_line(1, "192.0.2.9", evil=True)
                   + fail2ban_dir.slow_line(2, "192.0.2.9"))

    async def main() -> None:
        daemon = Daemon(load_config(tmp_path / "floodwall.toml"))
        await daemon.start()
        try:
            with log.open("a") as writer:
                writer.write(fail2ban_dir.slow_line(3, "192.0.2.7")
                             + fail2ban_dir.slow_line(4, "192.0.2.7"))
            await until(lambda: daemon.bans.ledger.is_banned("slow", "192.0.2.7", daemon.clock.now()),
                        "the ban of the honest attacker", timeout=20.0)
            status = daemon.status()
            jail = next(j for j in status["jails"] if j["name"] == "slow")
            assert jail["lines_timed_out"] == 1
            assert jail["failures"] == 3  # the interrupted line counted for nothing
            assert not daemon.bans.ledger.is_banned("slow", "192.0.2.9", daemon.clock.now())
        finally:
            await daemon.shutdown()

    report = _the_one_report(caplog, main)
    assert f"{log} line 1 took more than 0.25s" in report
    assert report.endswith(r"Slow on it: failregex = slow\[\d+\]: bad login from <HOST>(?: (\w+\s?)+!)?$")
    assert "filter.d/slow.conf" in report


def test_an_access_rule_path_regex_that_backtracks_is_bounded_too(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from floodwall.enforcement.recording import RecordingEnforcer

    log = tmp_path / "access.log"
    (tmp_path / "floodwall.toml").write_text(f"""
[floodwall]
state_dir = "{tmp_path}/state"
socket = "{tmp_path}/ctl/control.sock"
backend = "dry-run"
new_files_from = "start"

[jails.web]
logpath = ["{log}"]
status = [404]
path = '^/(a+)+$'
maxretry = 2
""")

    def request(client: str, path: str) -> str:
        return (f'{client} - - [02/Mar/2026:08:00:01 +0000] "GET {path} HTTP/1.1" 404 1 "-" '
                '"x"\n')

    # The attacker's path makes '^/(a+)+$' try 2^40 ways to fail.
    log.write_text(request("192.0.2.9", "/" + "a" * 40 + "b") + request("192.0.2.9", "/aa"))

    async def main() -> None:
        enforcer = RecordingEnforcer()
        daemon = Daemon(load_config(tmp_path / "floodwall.toml"), enforcer=enforcer)
        await daemon.start()
        try:
            with log.open("a") as writer:
                writer.write(request("192.0.2.7", "/a") + request("192.0.2.7", "/aaa"))
            await until(lambda: enforcer.elements()["web"] == ["192.0.2.7"],
                        "the ban of the honest attacker", timeout=20.0)
            jail = daemon.status()["jails"][0]
            assert jail["lines_timed_out"] == 1 and jail["failures"] == 3
        finally:
            await daemon.shutdown()

    report = _the_one_report(caplog, main)
    assert f"{log} line 1 took more than 0.25s in its access rule" in report
    assert report.endswith("Slow on it: path = ^/(a+)+$")
