"""Reads a whole log file (plain or gzip) as lines, for replays of old logs."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
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


def read_lines(path: str, *, max_line_bytes: int = 65536,
               progress: list[int] | None = None) -> Iterator[SourceLine]:
    """Every line of a file in order (a last line without newline included).

    Lines longer than max_line_bytes are cut (with one warning per file); undecodable
    bytes become U+FFFD. If `progress` is given, progress[0] is kept at the bytes consumed.
    """
    lineno = 0
    warned = False
    with open_log(path) as handle:
        rest = b""
        while True:
            try:
                chunk = handle.read(_CHUNK)
            except (OSError, EOFError) as problem:
                raise SourceError(f"{path}: read failed after line {lineno}: {problem}") from None
            if progress is not None:
                progress[0] += len(chunk)
            if not chunk:
                break
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            if len(rest) > max_line_bytes * 4:
                rest = rest[:max_line_bytes]  # bound memory while a giant line goes on
            for raw in parts:
                lineno += 1
                if len(raw) > max_line_bytes:
                    if not warned:
                        log.warning("%s:%d: line of %d bytes cut to %d (max_line_bytes)",
                                    path, lineno, len(raw), max_line_bytes)
                        warned = True
                    raw = raw[:max_line_bytes]
                yield SourceLine(path, lineno, raw.rstrip(b"\r").decode("utf-8", "replace"))
        if rest:
            yield SourceLine(path, lineno + 1,
                             rest[:max_line_bytes].rstrip(b"\r").decode("utf-8", "replace"))
