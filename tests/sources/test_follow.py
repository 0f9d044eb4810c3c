"""FileFollower on real files: partial and long lines, restarts, rotation, truncation."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from floodwall.model import Position, SourceLine
from floodwall.sources.follow import FileFollower
from floodwall.sources.offsets import head_digest

from .writers import NumberWriter, append, copy_truncate, numbers, rename_rotation, texts


def read_while_writing(follower: FileFollower, writer: NumberWriter,
                       timeout: float = 20.0) -> list[SourceLine]:
    """Poll read_lines until the writer has finished and nothing more is left to read."""
    lines: list[SourceLine] = []
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"timed out; read {len(lines)} lines"
        finished = not writer.is_alive()
        more = follower.read_lines()
        lines += more
        if more:
            writer.seen = numbers(more)[-1]
        if finished and not more:
            return lines
        time.sleep(0.001)  # yield to the writer thread between polls


def test_partial_line_is_held_until_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"")
    follower = FileFollower(str(log), position=None, start_at_end=True)
    append(log, b"first\nsec")
    assert follower.read_lines() == [SourceLine(str(log), 1, "first")]
    assert follower.read_lines() == []
    position = follower.position()
    assert position is not None and position.offset == len(b"first\n")
    append(log, b"ond\r\nthird")
    assert follower.read_lines() == [SourceLine(str(log), 2, "second")]
    append(log, b"\n")
    assert follower.read_lines() == [SourceLine(str(log), 3, "third")]


def test_non_utf8_bytes_become_replacement_characters(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"")
    follower = FileFollower(str(log), position=None, start_at_end=False)
    append(log, b"caf\xe9 \xff\xfe ok\n\xc3\xa9t\xc3\xa9\n")
    assert texts(follower.read_lines()) == ["caf\ufffd \ufffd\ufffd ok", "été"]


def test_long_line_is_cut_once_and_memory_stays_bounded(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"short\n")
    follower = FileFollower(str(log), position=None, start_at_end=False, max_line_bytes=100)
    assert texts(follower.read_lines()) == ["short"]
    piece = b"y" * (256 * 1024)
    tracemalloc.start()
    try:
        lines: list[SourceLine] = []
        for _ in range(32):  # an 8 MiB line arriving in pieces, read as it grows
            append(log, piece)
            lines += follower.read_lines()
        append(log, b"tail\nafter\n" + b"z" * 300 + b"\n")
        lines += follower.read_lines()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(line.lineno, line.text) for line in lines] == [
        (2, "y" * 100), (3, "after"), (4, "z" * 100)]
    assert peak < 3 * 1024 * 1024, f"peak memory {peak} bytes while reading an 8 MiB line"
    cut_warnings = [r for r in caplog.records if "max_line_bytes" in r.getMessage()]
    assert len(cut_warnings) == 1 and cut_warnings[0].name == "floodwall.sources"


def test_start_at_end_skips_old_lines_but_keeps_the_line_being_written(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"old 1\nold 2\npart")
    at_end = FileFollower(str(log), position=None, start_at_end=True)
    from_start = FileFollower(str(log), position=None, start_at_end=False)
    assert at_end.read_lines() == []
    append(log, b"ial\nnew\n")
    assert [(line.lineno, line.text) for line in at_end.read_lines()] == [
        (3, "partial"), (4, "new")]
    assert texts(from_start.read_lines()) == ["old 1", "old 2", "partial", "new"]


def test_file_appearing_later_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    follower = FileFollower(str(log), position=None, start_at_end=True)
    assert follower.read_lines() == [] and follower.position() is None
    log.write_bytes(b"one\ntwo\n")
    assert texts(follower.read_lines()) == ["one", "two"]


def test_restart_from_saved_position_neither_rereads_nor_skips(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(b"line %d\n" % n for n in range(1, 6)) + b"half")
    first = FileFollower(str(log), position=None, start_at_end=False)
    assert len(first.read_lines()) == 5
    saved = first.position()
    assert saved is not None and saved.lineno == 5
    assert saved.inode == log.stat().st_ino
    first.close()
    append(log, b" done\nline 7\n")  # written while stopped
    second = FileFollower(str(log), position=saved, start_at_end=True)
    assert [(line.lineno, line.text) for line in second.read_lines()] == [
        (6, "half done"), (7, "line 7")]


def test_saved_position_of_another_or_shorter_file_restarts_at_zero(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"alpha 1\nalpha 2\n")
    follower = FileFollower(str(log), position=None, start_at_end=False)
    follower.read_lines()
    saved = follower.position()
    assert saved is not None
    follower.close()

    log.unlink()  # recreated: another inode
    log.write_bytes(b"beta 1\nbeta 2\nbeta 3\n")
    assert texts(FileFollower(str(log), position=saved, start_at_end=True).read_lines()) == [
        "beta 1", "beta 2", "beta 3"]

    same_inode = Position(log.stat().st_ino, 1000, 40, saved.head)  # truncated while down
    assert len(FileFollower(str(log), position=same_inode, start_at_end=True).read_lines()) == 3

    rewritten = Position(log.stat().st_ino, 7, 1, head_digest(b"alpha 1"))  # same inode, new text
    assert len(FileFollower(str(log), position=rewritten, start_at_end=True).read_lines()) == 3


def test_deleted_and_recreated_file_is_read_from_zero(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"a\n")
    follower = FileFollower(str(log), position=None, start_at_end=False, rotate_grace=0.05)
    assert texts(follower.read_lines()) == ["a"]
    log.unlink()
    deadline = time.monotonic() + 5
    while follower.is_open:  # the deleted file is kept open for the grace only
        assert time.monotonic() < deadline
        assert follower.read_lines() == []
        time.sleep(0.01)
    assert follower.wake_at() is None
    log.write_bytes(b"b\nc\n")
    assert [(line.lineno, line.text) for line in follower.read_lines()] == [(1, "b"), (2, "c")]


def test_old_file_is_read_through_the_grace_after_a_rename(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"1\n")
    follower = FileFollower(str(log), position=None, start_at_end=False, rotate_grace=30.0)
    assert texts(follower.read_lines()) == ["1"]
    log.rename(tmp_path / "a.log.1")
    append(tmp_path / "a.log.1", b"2\n")
    assert texts(follower.read_lines()) == ["2"]
    assert follower.wake_at() is not None
    log.write_bytes(b"")  # `create` made a new empty file: the old one is still read
    append(tmp_path / "a.log.1", b"3\nunterminated")
    assert texts(follower.read_lines()) == ["3"]
    append(log, b"new 1\n")  # the writer moved on: finish the old file, switch
    assert [(line.lineno, line.text) for line in follower.read_lines()] == [
        (4, "unterminated"), (1, "new 1")]
    assert follower.wake_at() is None
    position = follower.position()
    assert position is not None and position.inode == log.stat().st_ino


def test_rename_rotation_under_a_continuous_writer_loses_and_repeats_nothing(
        tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"")
    follower = FileFollower(str(log), position=None, start_at_end=True)
    writer = NumberWriter(log, total=20_000, rotate_every=3_000, rotate=rename_rotation,
                          reopen=True)
    writer.start()
    lines = read_while_writing(follower, writer)
    assert writer.rotations >= 3
    assert numbers(lines) == list(range(1, 20_001))
    assert follower.read_lines() == []


def test_copytruncate_under_a_continuous_writer_repeats_nothing(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"")
    follower = FileFollower(str(log), position=None, start_at_end=True)
    writer = NumberWriter(log, total=20_000, rotate_every=2_500, rotate=copy_truncate,
                          reopen=False)
    writer.start()
    lines = read_while_writing(follower, writer)
    assert writer.rotations >= 3
    got = numbers(lines)
    assert len(got) == len(set(got)), "a line was read twice"
    assert got == sorted(got)
    assert got[-1] == 20_000


def test_copytruncate_between_reads_loses_nothing(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"")
    follower = FileFollower(str(log), position=None, start_at_end=True)
    got: list[int] = []
    for round_ in range(5):
        append(log, b"".join(b"%d\n" % n for n in range(round_ * 100, round_ * 100 + 100)))
        got += numbers(follower.read_lines())
        copy_truncate(log)
        # regrown past the old offset before the next read: told apart by its first bytes
        append(log, b"".join(b"%d\n" % n for n in range(round_ * 100 + 1000, round_ * 100 + 1400)))
        got += numbers(follower.read_lines())
        copy_truncate(log)
    expected = [n for r in range(5) for n in [*range(r * 100, r * 100 + 100),
                                              *range(r * 100 + 1000, r * 100 + 1400)]]
    assert got == expected


def test_unreadable_path_warns_once_and_is_retried(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    odd = tmp_path / "odd.log"
    odd.mkdir()  # a path that cannot be read as a log
    loop = tmp_path / "loop.log"
    loop.symlink_to(loop)  # open() fails with ELOOP
    good = tmp_path / "good.log"
    good.write_bytes(b"")
    followers = [FileFollower(str(p), position=None, start_at_end=False)
                 for p in (odd, loop, good)]
    for n in range(3):
        append(good, b"line %d\n" % n)
        results = [f.read_lines() for f in followers]
        assert results[0] == [] and results[1] == []
        assert texts(results[2]) == [f"line {n}"]
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "floodwall.sources" and r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert str(odd) in warnings[0] and "not a regular file" in warnings[0]
    assert str(loop) in warnings[1]
    odd.rmdir()
    odd.write_bytes(b"fixed\n")
    assert texts(followers[0].read_lines()) == ["fixed"]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged user can enter (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="fw-sources-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_permission_denied_as_non_root_warns_once_and_recovers(shared_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root, to switch to an unprivileged user in a child process")
    log = shared_dir / "secret.log"
    log.write_bytes(b"hidden\n")
    log.chmod(0o000)
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits
        status = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            warnings: list[str] = []
            handler = logging.Handler(logging.WARNING)
            handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore
            logging.getLogger("floodwall.sources").addHandler(handler)
            follower = FileFollower(str(log), position=None, start_at_end=False)
            denied = [follower.read_lines() for _ in range(3)]
            os.write(to_parent_w, b"%d %d %d\n" % (
                sum(map(len, denied)), len(warnings), "Permission denied" in warnings[0]))
            os.read(to_child_r, 1)  # the parent has made the file readable
            os.write(to_parent_w, "|".join(texts(follower.read_lines())).encode() + b"\n")
            status = 0
        finally:
            os._exit(status)
    os.close(to_parent_w)
    os.close(to_child_r)
    with os.fdopen(to_parent_r, "rb") as from_child:
        assert from_child.readline() == b"0 1 1\n"  # no lines, one warning naming the cause
        log.chmod(0o644)
        os.write(to_child_w, b"!")
        os.close(to_child_w)
        assert from_child.readline() == b"hidden\n"
    assert os.waitpid(child, 0)[1] == 0


@pytest.mark.parametrize("seed", range(8))
def test_random_writes_rotations_reads_and_restarts_lose_and_repeat_nothing(
        tmp_path: Path, seed: int) -> None:
    """A writer appending lines and pieces of lines, rotating by rename (it writes on to the
    old file until it reopens the path, sometimes leaving a last line unterminated there),
    and a follower reading with random budgets and restarting from its saved position:
    every line comes out once, in order."""
    import random

    rng = random.Random(seed)
    log = tmp_path / "a.log"
    log.write_bytes(b"")
    follower = FileFollower(str(log), position=None, start_at_end=False, rotate_grace=600.0)
    written: list[str] = []
    got: list[str] = []
    state = {"current": log, "partial": "", "serial": 0, "generation": 0}

    def line(text: str) -> None:
        append(state["current"], (text + "\n").encode())  # type: ignore[arg-type]
        written.append(str(state["partial"]) + text)
        state["partial"] = ""

    def piece(text: str) -> None:
        append(state["current"], text.encode())  # type: ignore[arg-type]
        state["partial"] = str(state["partial"]) + text

    def read_all() -> None:
        for _ in range(1000):
            got.extend(texts(follower.read_lines()))
            if not follower.has_more:
                return

    for _ in range(400):
        action = rng.random()
        state["serial"] = int(state["serial"]) + 1
        text = f"line {state['serial']} " + "x" * rng.randint(0, 40)
        if action < 0.35:
            line(text)
        elif action < 0.5:
            piece(text[:rng.randint(0, len(text))])
        elif action < 0.6 and state["current"] == log:
            read_all()  # the daemon keeps up; then logrotate renames the file
            state["generation"] = int(state["generation"]) + 1
            rotated = tmp_path / f"a.log.{state['generation']}"
            log.rename(rotated)
            state["current"] = rotated
        elif action < 0.7 and state["current"] != log:
            if state["partial"]:  # the old file's unterminated last line, read as a line
                written.append(str(state["partial"]))
                state["partial"] = ""
            state["current"] = log
            line(text + " (new file)")
        elif action < 0.8:
            position = follower.position()
            follower.close()
            follower = FileFollower(str(log), position=position, start_at_end=True,
                                    rotate_grace=600.0)
        else:
            got.extend(texts(follower.read_lines(rng.choice((None, 64, 300, 4096)))))
    if state["current"] != log and state["partial"]:
        written.append(str(state["partial"]))
        state["partial"] = ""
    state["current"] = log
    line("the end")
    read_all()
    assert got == written


def _age(path: Path, seconds_ago: float) -> None:
    """Set a file's modification time into the past (rotations are minutes apart)."""
    when = time.time() - seconds_ago
    os.utime(path, (when, when))


@pytest.mark.parametrize("stopped", [True, False])
def test_two_rotations_between_reads_lose_no_generation(tmp_path: Path, stopped: bool) -> None:
    log = tmp_path / "a.log"
    (tmp_path / "a.log.3").write_bytes(b"an older generation, read long ago\n")
    _age(tmp_path / "a.log.3", 7200)
    log.write_bytes(b"1\n2\n3\n")
    follower = FileFollower(str(log), position=None, start_at_end=False)
    assert texts(follower.read_lines()) == ["1", "2", "3"]
    if stopped:
        position = follower.position()
        follower.close()
    append(log, b"4\n")
    _age(log, 600)
    log.rename(tmp_path / "a.log.2")  # the first rotation...
    log.write_bytes(b"5\n6\n")
    _age(log, 300)
    log.rename(tmp_path / "a.log.1")  # ...and the second, before floodwall reads again
    (tmp_path / "a.log.4.gz").write_bytes(b"compressed: never read as text")
    log.write_bytes(b"7\n")
    if stopped:
        follower = FileFollower(str(log), position=position, start_at_end=True)
    assert texts(follower.read_lines()) == ["4", "5", "6", "7"]
    append(log, b"8\n")
    assert texts(follower.read_lines()) == ["8"]
