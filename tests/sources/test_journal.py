"""The journal follower: entries as fail2ban's systemd backend formats them, read by a real
journalctl from journal files the test writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import pytest

from floodwall.model import SourceLine
from floodwall.settings.values import JournalConfig
from floodwall.sources import journal as journal_module
from floodwall.sources.journal import (
    JournalFollower,
    entry_time,
    format_entry,
    journal_command,
    journal_path,
)
from tests.support.journal import skip_reason, sshd_entry, write_journal

REASON = skip_reason()


def test_an_entry_becomes_fail2bans_line() -> None:
    entry = {"_HOSTNAME": "web1", "SYSLOG_IDENTIFIER": "sshd", "_PID": "812",
             "MESSAGE": "Invalid user oracle from 192.0.2.7\nport 22"}
    assert format_entry(entry) == "web1 sshd[812]: Invalid user oracle from 192.0.2.7\\nport 22"
    assert format_entry({"_COMM": "kernel", "__MONOTONIC_TIMESTAMP": "2500000",
                         "MESSAGE": "x"}) == "kernel: [    2.500000] x"
    # a message that is not UTF-8 comes from journalctl as a list of byte values
    assert format_entry({"MESSAGE": [104, 105, 255]}) == "hi\ufffd"


def test_the_entrys_own_time_wins_over_the_journals() -> None:
    assert entry_time({"__REALTIME_TIMESTAMP": "1700000000500000"}) == 1700000000.5
    assert entry_time({"__REALTIME_TIMESTAMP": "1700000000500000",
                       "_SOURCE_REALTIME_TIMESTAMP": "1699999999000000"}) == 1699999999.0
    assert entry_time({"MESSAGE": "no time"}) is None


def test_journalctl_arguments_resume_after_the_cursor_or_read_back_findtime() -> None:
    config = JournalConfig(("_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"), "/j", ("/a.journal",))
    fresh = journal_command(config, cursor=None, since=1700000000.7)
    assert fresh[0] == "journalctl" and "--follow" in fresh and "--output=json" in fresh
    assert "--since=@1700000000" in fresh
    assert fresh[-5:] == ["--directory=/j", "--file=/a.journal", "_SYSTEMD_UNIT=sshd.service",
                          "+", "_COMM=sshd"]
    resumed = journal_command(config, cursor="s=abc;i=1", since=0)
    assert "--after-cursor=s=abc;i=1" in resumed and not any(
        word.startswith("--since") for word in resumed)
    assert "--system" not in fresh and "--user" not in fresh
    system = journal_command(JournalConfig(system=True, user=True, namespace="web"),
                             cursor=None, since=0)
    assert system[-3:] == ["--system", "--user", "--namespace=web"]


async def _lines(follower: JournalFollower, count: int, timeout: float = 20.0
                 ) -> list[SourceLine]:
    found: list[SourceLine] = []

    async def collect() -> None:
        async with contextlib.aclosing(follower.batches()) as batches:
            async for batch in batches:
                found.extend(batch)
                if len(found) >= count:
                    return

    await asyncio.wait_for(collect(), timeout)
    return found


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_a_real_journal_is_followed_with_its_matches(tmp_path: Path) -> None:
    now = time.time()
    folder = tmp_path / "journal"
    write_journal(folder / "first.journal", [
        sshd_entry("Invalid user oracle from 192.0.2.7 port 4444", now - 30),
        {**sshd_entry("not ours", now - 20), "_SYSTEMD_UNIT": "cron.service", "_COMM": "cron",
         "SYSLOG_IDENTIFIER": "CRON"},
        sshd_entry("Invalid user test from 192.0.2.8 port 4445", now - 10, pid=4243)])
    config = JournalConfig(("_SYSTEMD_UNIT=sshd.service",), str(folder))
    follower = JournalFollower("sshd", config, 600, cursor=None)

    async def first() -> list[SourceLine]:
        return await _lines(follower, 2)

    lines = asyncio.run(first())
    assert [line.text for line in lines] == [
        "web1 sshd[4242]: Invalid user oracle from 192.0.2.7 port 4444",
        "web1 sshd[4243]: Invalid user test from 192.0.2.8 port 4445"]
    assert [line.path for line in lines] == [journal_path("sshd")] * 2
    assert lines[0].time == pytest.approx(now - 30, abs=1e-3)
    assert follower.cursor is not None

    # resumed after its cursor, it sees only what was written since, and follows it
    resumed = JournalFollower("sshd", config, 600, cursor=follower.cursor)

    async def second() -> list[SourceLine]:
        async def write_later() -> None:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(write_journal, folder / "second.journal", [
                sshd_entry("Invalid user admin from 192.0.2.9 port 4446", time.time())])
        writer = asyncio.ensure_future(write_later())
        try:
            return await _lines(resumed, 1)
        finally:
            await writer

    later = asyncio.run(second())
    assert [line.text for line in later] == [
        "web1 sshd[4242]: Invalid user admin from 192.0.2.9 port 4446"]


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_entries_older_than_findtime_are_not_read_on_a_first_start(tmp_path: Path) -> None:
    now = time.time()
    folder = tmp_path / "journal"
    write_journal(folder / "old.journal", [
        sshd_entry("Invalid user old from 192.0.2.7 port 1", now - 3600),
        sshd_entry("Invalid user new from 192.0.2.8 port 2", now - 5)])
    follower = JournalFollower("sshd", JournalConfig((), str(folder)), 600, cursor=None)
    lines = asyncio.run(_lines(follower, 1))
    assert [line.text for line in lines] == [
        "web1 sshd[4242]: Invalid user new from 192.0.2.8 port 2"]


@pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
def test_journalctl_that_ends_is_started_again_and_logged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(journal_module, "RESTART_SECONDS", (0.05,))
    missing = JournalConfig((), files=(str(tmp_path / "none.journal"),))
    follower = JournalFollower("sshd", missing, 600, cursor=None)

    async def run_a_while() -> None:
        async with contextlib.aclosing(follower.batches()) as batches:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(batches.__anext__(), 1.0)  # nothing ever comes

    with caplog.at_level(logging.ERROR, logger="floodwall.sources"):
        asyncio.run(run_a_while())
    ended = [record.getMessage() for record in caplog.records if "journalctl ended" in
             record.getMessage()]
    assert len(ended) >= 2  # it ended, was started again, and ended again
    assert "jail sshd" in ended[0]
