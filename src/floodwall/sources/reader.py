"""Reads a whole log file (plain or gzip) as lines, for replays of old logs."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from floodwall.errors import SourceError
from floodwall.model import SourceLine

log = logging.getLogger("floodwall.sources")
_CHUNK = 1 << 20


def open_log(path: str) -> BinaryIO:
    """Open a log for reading bytes; .gz files are decompressed."""
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as problem:
        raise SourceError(f"{path}: cannot read: {problem.strerror}") from None


@dataclass(slots=True)
class ReadProgress:
    """How far a reader got: bytes consumed and lines seen (selected or not)."""

    bytes: int = 0
    lines: int = 0


Selector = Callable[[bytes], Iterable[tuple[int, int]]]
"""Given a buffer of complete lines, the (start, end) spans of the lines to keep."""


def read_lines(path: str, *, max_line_bytes: int = 65536,
               progress: ReadProgress | None = None,
               select: Selector | None = None, chunk_bytes: int = _CHUNK) -> Iterator[SourceLine]:
    """The lines of a file in order (a last line without newline included).

    Lines longer than max_line_bytes are cut (with one warning per file); undecodable
    bytes become U+FFFD. With `select`, only the lines it picks out of each buffer are
    decoded and yielded; line numbers still count every line. Memory per open reader is
    about `chunk_bytes` (many readers at once, as in a merged replay, want small chunks).
    """
    progress = progress if progress is not None else ReadProgress()
    lineno = 0
    with open_log(path) as handle:
        rest = b""
        while True:
            try:
                chunk = handle.read(chunk_bytes)
            except (OSError, EOFError) as problem:
                raise SourceError(f"{path}: read failed after line {lineno}: {problem}") from None
            progress.bytes += len(chunk)
            if not chunk:
                break
            cut = chunk.rfind(b"\n")
            if cut < 0:
                rest += chunk
                if len(rest) > max_line_bytes * 4:
                    rest = rest[:max_line_bytes]  # bound memory while a giant line goes on
                continue
            buffer, rest = rest + chunk[:cut], chunk[cut + 1:]
            if select is None:
                for number, raw in enumerate(buffer.split(b"\n"), start=lineno + 1):
                    yield _line(path, number, raw, max_line_bytes)
            else:
                newlines = cursor = 0
                for start, end in select(buffer):
                    newlines += buffer.count(b"\n", cursor, start)
                    cursor = start
                    yield _line(path, lineno + newlines + 1, buffer[start:end], max_line_bytes)
            lineno += buffer.count(b"\n") + 1
            progress.lines = lineno
        if rest:
            lineno += 1
            progress.lines = lineno
            if select is None or any(True for _ in select(rest)):
                yield _line(path, lineno, rest, max_line_bytes)


_warned: set[str] = set()


def _line(path: str, number: int, raw: bytes, max_line_bytes: int) -> SourceLine:
    if len(raw) > max_line_bytes:
        if path not in _warned:
            _warned.add(path)
            log.warning("%s:%d: line of %d bytes cut to %d (max_line_bytes)", path, number,
                        len(raw), max_line_bytes)
        raw = raw[:max_line_bytes]
    return SourceLine(path, number, raw.rstrip(b"\r").decode("utf-8", "replace"))
