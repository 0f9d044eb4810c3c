"""GlobWatcher with real files and real inotify: globs, new vhosts, rotation, restarts."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path

import pytest

from floodwall.model import SourceLine
from floodwall.sources.offsets import MemoryOffsetStore
from floodwall.sources.watch import BATCH_BYTES, GlobWatcher

from .writers import NumberWriter, append, copy_truncate, numbers, rename_rotation, texts

Done = Callable[[list[SourceLine]], bool]


def at_least(count: int) -> Done:
    """Done once `count` lines have been taken."""
    return lambda lines: len(lines) >= count


async def collect(batches: AsyncGenerator[list[SourceLine], None], done: Done,
                  lines: list[SourceLine] | None = None, timeout: float = 10.0,
                  writer: NumberWriter | None = None,
                  first: asyncio.Task[list[SourceLine]] | None = None) -> list[SourceLine]:
    """Take batches (`first` first) until `done(lines)`; fails after `timeout` seconds."""
    lines = [] if lines is None else lines
    async with asyncio.timeout(timeout):
        while not done(lines):
            batch = await (first or anext(batches))
            first = None
            assert batch, "batches() yielded an empty list"
            lines += batch
            if writer is not None:
                writer.seen = numbers(batch)[-1]
    return lines


async def waiting(batches: AsyncGenerator[list[SourceLine], None]
                  ) -> asyncio.Task[list[SourceLine]]:
    """Start `batches` and return its first batch to come, once it waits for inotify."""
    first = asyncio.ensure_future(anext(batches))
    async with asyncio.timeout(5):
        while batches.ag_await is None:  # type: ignore[attr-defined]  # catch-up read done
            await asyncio.sleep(0)
    assert not first.done(), "nothing was written yet, so there was nothing to yield"
    return first


async def wait_for_writer(writer: NumberWriter, timeout: float = 20.0) -> None:
    """Wait (without blocking the loop) until the writer thread has finished."""
    await asyncio.wait_for(asyncio.to_thread(writer.join), timeout)


@pytest.fixture
def watchers() -> Iterator[list[GlobWatcher]]:
    """Watchers made by a test, closed after it."""
    made: list[GlobWatcher] = []
    yield made
    for watcher in made:
        watcher.close()


def test_hundreds_of_vhosts_and_vhosts_created_later(
        tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    www = tmp_path / "www"
    for n in range(300):
        (www / f"site{n}" / "logs").mkdir(parents=True)
        (www / f"site{n}" / "logs" / "access.log").write_bytes(b"old\n")
        (www / f"site{n}" / "logs" / "error.log").write_bytes(b"not followed\n")
    watcher = GlobWatcher([f"{www}/*/logs/access.log"], MemoryOffsetStore())
    watchers.append(watcher)
    assert len(watcher.files()) == 300
    assert watcher.read_available() == []  # existing files start at their end

    async def scenario() -> None:
        batches = watcher.batches()
        for n in range(300):
            append(www / f"site{n}" / "logs" / "access.log", b"hit %d\n" % n)
            append(www / f"site{n}" / "logs" / "error.log", b"ignored\n")
        lines = await collect(batches, at_least(300))
        assert sorted((line.path, line.lineno, line.text) for line in lines) == sorted(
            (str(www / f"site{n}" / "logs" / "access.log"), 2, f"hit {n}") for n in range(300))

        # a new vhost: its directories and its file appear while running
        (www / "new-site" / "logs").mkdir(parents=True)
        append(www / "new-site" / "logs" / "access.log", b"first\nsecond\n")
        (www / "other" / "logs").mkdir(parents=True)  # directory first, file a moment later
        lines = await collect(batches, at_least(2))
        append(www / "other" / "logs" / "access.log", b"third\n")
        lines = await collect(batches, at_least(3), lines)
        assert [(Path(line.path).parent.parent.name, line.lineno, line.text)
                for line in lines] == [("new-site", 1, "first"), ("new-site", 2, "second"),
                                       ("other", 1, "third")]
        await batches.aclose()

    asyncio.run(scenario())
    assert len(watcher.files()) == 302


def test_static_parent_created_later_is_picked_up(
        tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    pattern = str(tmp_path / "var" / "log" / "app" / "*.log")
    watcher = GlobWatcher([pattern], MemoryOffsetStore())
    watchers.append(watcher)
    assert watcher.files() == []

    async def scenario() -> None:
        batches = watcher.batches()
        first = await waiting(batches)
        (tmp_path / "var" / "log" / "app").mkdir(parents=True)
        append(tmp_path / "var" / "log" / "app" / "x.log", b"hello\n")
        lines = await collect(batches, at_least(1), first=first)
        assert [(line.path, line.text) for line in lines] == [
            (str(tmp_path / "var" / "log" / "app" / "x.log"), "hello")]
        await batches.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("batch_bytes", [BATCH_BYTES, 4096])
def test_rename_rotation_under_a_continuous_writer(
        tmp_path: Path, watchers: list[GlobWatcher], batch_bytes: int) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    watcher = GlobWatcher([str(tmp_path / "*.log")], MemoryOffsetStore(), batch_bytes=batch_bytes)
    watchers.append(watcher)
    writer = NumberWriter(log, total=20_000, rotate_every=2_500, rotate=rename_rotation,
                          reopen=True)

    async def scenario() -> list[SourceLine]:
        batches = watcher.batches()
        writer.start()
        lines = await collect(batches, at_least(20_000), writer=writer)
        await wait_for_writer(writer)
        await batches.aclose()
        return lines

    lines = asyncio.run(scenario())
    assert writer.rotations >= 3
    assert numbers(lines) == list(range(1, 20_001))
    assert {line.path for line in lines} == {str(log)}
    assert watcher.read_available() == []


def test_copytruncate_under_a_continuous_writer(
        tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    watcher = GlobWatcher([str(tmp_path / "*.log")], MemoryOffsetStore())
    watchers.append(watcher)
    writer = NumberWriter(log, total=20_000, rotate_every=2_500, rotate=copy_truncate,
                          reopen=False)

    async def scenario() -> list[SourceLine]:
        batches = watcher.batches()
        writer.start()
        lines = await collect(batches, lambda got: bool(got) and numbers(got[-1:]) == [20_000],
                              writer=writer)
        await wait_for_writer(writer)
        await batches.aclose()
        return lines

    got = numbers(asyncio.run(scenario()))
    assert writer.rotations >= 3
    assert len(got) == len(set(got)), "a line was read twice"
    assert got == sorted(got)
    assert watcher.read_available() == []


def test_copytruncate_while_idle_loses_nothing(
        tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    watcher = GlobWatcher([str(tmp_path / "*.log")], MemoryOffsetStore())
    watchers.append(watcher)

    async def scenario() -> list[SourceLine]:
        batches = watcher.batches()
        lines: list[SourceLine] = []
        for round_ in range(4):
            first = round_ * 1000
            append(log, b"".join(b"%d\n" % n for n in range(first, first + 500)))
            await collect(batches, at_least(500 * (2 * round_ + 1)), lines)
            copy_truncate(log)
            append(log, b"".join(b"%d\n" % n for n in range(first + 500, first + 1000)))
            await collect(batches, at_least(500 * (2 * round_ + 2)), lines)
        await batches.aclose()
        return lines

    assert numbers(asyncio.run(scenario())) == list(range(4000))


def test_restart_resumes_from_checkpoint(tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    kept, rotated, later = (tmp_path / name for name in ("kept.log", "rotated.log", "later.log"))
    kept.write_bytes(b"before start\n")
    rotated.write_bytes(b"before start\n")
    store = MemoryOffsetStore()
    first = GlobWatcher([str(tmp_path / "*.log")], store, start_at_end=True)
    watchers.append(first)

    async def run_first() -> list[SourceLine]:
        batches = first.batches()
        append(kept, b"k2\nk3\npartial")
        append(rotated, b"r2\n")
        lines = await collect(batches, at_least(3))
        await batches.aclose()
        return lines

    assert sorted(texts(asyncio.run(run_first()))) == ["k2", "k3", "r2"]
    first.checkpoint()
    first.close()
    assert store.saves == 1 and set(store.positions) == {str(kept), str(rotated)}

    # while stopped: one file grows, one is rotated, one appears
    append(kept, b" line\nk5\n")
    append(rotated, b"r3\n")  # written just before the rotation: not lost
    rotated.rename(tmp_path / "rotated.log.1")
    rotated.write_bytes(b"new r1\nnew r2\n")
    later.write_bytes(b"old news\n")

    second = GlobWatcher([str(tmp_path / "*.log")], store, start_at_end=True)
    watchers.append(second)
    lines = second.read_available()
    assert sorted((Path(line.path).name, line.lineno, line.text) for line in lines) == [
        ("kept.log", 4, "partial line"), ("kept.log", 5, "k5"),
        ("rotated.log", 1, "new r1"), ("rotated.log", 2, "new r2"), ("rotated.log", 3, "r3")]
    assert [line.text for line in lines if line.path == str(rotated)] == [
        "r3", "new r1", "new r2"]  # the old file's tail first
    assert second.read_available() == []
    second.checkpoint()
    assert set(store.positions) == {str(kept), str(rotated), str(later)}


def test_renamed_file_still_written_is_read_before_the_grace_ends(
        tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    watcher = GlobWatcher([str(tmp_path / "*.log")], MemoryOffsetStore(), rotate_grace=30.0)
    watchers.append(watcher)

    async def scenario() -> list[SourceLine]:
        batches = watcher.batches()
        first = await waiting(batches)
        log.rename(tmp_path / "app.log.1")
        append(tmp_path / "app.log.1", b"late 1\n")
        lines = await collect(batches, at_least(1), first=first, timeout=5)
        # the follower now knows about the rename; the writer has not reopened yet
        append(tmp_path / "app.log.1", b"late 2\n")
        lines = await collect(batches, at_least(2), lines, timeout=5)
        await batches.aclose()
        return lines

    assert [(line.path, line.lineno, line.text) for line in asyncio.run(scenario())] == [
        (str(log), 1, "late 1"), (str(log), 2, "late 2")]


def test_deleted_and_recreated_file(tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    watcher = GlobWatcher([str(tmp_path / "*.log")], MemoryOffsetStore(), rotate_grace=0.2)
    watchers.append(watcher)

    async def scenario() -> list[SourceLine]:
        batches = watcher.batches()
        append(log, b"one\ntwo\n")
        lines = await collect(batches, at_least(2))
        log.unlink()
        log.write_bytes(b"again\n")
        lines = await collect(batches, at_least(3), lines)
        await batches.aclose()
        return lines

    lines = asyncio.run(scenario())
    assert [(line.lineno, line.text) for line in lines] == [(1, "one"), (2, "two"), (1, "again")]


def test_removed_vhost_is_no_longer_followed(
        tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    for site in ("a", "b"):
        (tmp_path / site).mkdir()
        (tmp_path / site / "access.log").write_bytes(b"")
    watcher = GlobWatcher([str(tmp_path / "*" / "access.log")], MemoryOffsetStore(),
                          rotate_grace=0.1)
    watchers.append(watcher)

    async def scenario() -> None:
        batches = watcher.batches()
        (tmp_path / "a" / "access.log").unlink()
        (tmp_path / "a").rmdir()
        async with asyncio.timeout(10):
            while watcher.files() != [str(tmp_path / "b" / "access.log")]:
                # the grace timer and the directory events drive the loop; a write to b
                # makes sure there is a batch to take
                append(tmp_path / "b" / "access.log", b"tick\n")
                await anext(batches)
        await batches.aclose()

    asyncio.run(scenario())


def test_unreadable_file_warns_once_and_others_go_on(
        tmp_path: Path, watchers: list[GlobWatcher], caplog: pytest.LogCaptureFixture) -> None:
    loop = tmp_path / "loop.log"
    loop.symlink_to(loop)  # matched by the glob, fails on open (ELOOP)
    good = tmp_path / "good.log"
    good.write_bytes(b"")
    watcher = GlobWatcher([str(tmp_path / "*.log")], MemoryOffsetStore())
    watchers.append(watcher)
    assert watcher.files() == [str(good), str(loop)]

    async def scenario() -> list[SourceLine]:
        batches = watcher.batches()
        lines: list[SourceLine] = []
        for n in range(1, 6):
            os.utime(loop, follow_symlinks=False)  # an event for the broken path too
            append(good, b"line %d\n" % n)
            await collect(batches, at_least(n), lines)
        await batches.aclose()
        return lines

    assert texts(asyncio.run(scenario())) == [f"line {n}" for n in range(1, 6)]
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "floodwall.sources" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(loop) in warnings[0]


def test_safety_rescan_reads_what_inotify_cannot_see(
        tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "real.log").write_bytes(b"")
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "link.log").symlink_to(elsewhere / "real.log")
    watcher = GlobWatcher([str(watched / "*.log")], MemoryOffsetStore(), rescan_interval=0.2)
    watchers.append(watcher)

    async def scenario() -> list[SourceLine]:
        batches = watcher.batches()
        first = await waiting(batches)
        append(elsewhere / "real.log", b"through the link\n")  # no event in watched/
        lines = await collect(batches, at_least(1), timeout=5, first=first)
        await batches.aclose()
        return lines

    assert [(line.path, line.text) for line in asyncio.run(scenario())] == [
        (str(watched / "link.log"), "through the link")]


def test_a_long_catch_up_comes_in_batches_of_bounded_size(
        tmp_path: Path, watchers: list[GlobWatcher]) -> None:
    logs = [tmp_path / f"site{n}.log" for n in (1, 2)]
    for log in logs:
        append(log, b"".join(b"%d %s\n" % (number, b"x" * 90) for number in range(1, 5001)))
    watcher = GlobWatcher([str(tmp_path / "*.log")], MemoryOffsetStore(), start_at_end=False,
                          batch_bytes=64 * 1024)
    watchers.append(watcher)
    first = watcher.read_available()
    most = 2 * 64 * 1024 // 93 + 2  # two files, 64 KiB each, lines of 93 bytes or more
    assert watcher.backlog and 0 < len(first) <= most

    async def scenario() -> list[list[SourceLine]]:
        batches = watcher.batches()
        taken: list[list[SourceLine]] = []
        async with asyncio.timeout(10):
            while sum(map(len, taken)) < 10_000 - len(first):
                taken.append(await anext(batches))
        await batches.aclose()
        return taken

    taken = asyncio.run(scenario())
    assert all(len(batch) <= most for batch in taken) and len(taken) >= 5
    lines = first + [line for batch in taken for line in batch]
    for log in logs:
        mine = [line for line in lines if line.path == str(log)]
        assert numbers(mine) == list(range(1, 5001))
        assert [line.lineno for line in mine] == list(range(1, 5001))
    assert not watcher.backlog and watcher.read_available() == []


def test_a_file_reached_through_links_is_read_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for site in ("a", "b", "c"):
        (tmp_path / site / "logs").mkdir(parents=True)
    real = tmp_path / "a" / "logs" / "access.log"
    real.write_text("")
    (tmp_path / "b" / "logs" / "access.log").symlink_to(real)  # a tenant's link
    os.link(real, tmp_path / "c" / "logs" / "access.log")  # and a hard one
    with caplog.at_level(logging.WARNING):
        watcher = GlobWatcher([str(tmp_path / "*" / "logs" / "access.log")],
                              MemoryOffsetStore(), start_at_end=False)
    try:
        assert watcher.files() == [str(real)]
        assert caplog.text.count("is the same file as one already followed") == 1
        real.write_text("404 one\n404 two\n")
        lines = watcher.read_available()
        assert [(line.path, line.text) for line in lines] == [
            (str(real), "404 one"), (str(real), "404 two")]
    finally:
        watcher.close()
