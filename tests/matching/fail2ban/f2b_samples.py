"""fail2ban's sample corpus (from Debian's `fail2ban` package) walked and scored the way
fail2ban's own sample test does, for floodwall's engine."""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floodwall.matching.fail2ban.hosts import canonical_host

TEST_NOW = 1124013600
"""2005-08-14 10:00:00 UTC, the "now" of fail2ban's test suite."""
TEST_TZ = "CET-01CEST-02,M3.5.0,M10.5.0"
"""The time zone fail2ban's test suite runs in."""
STOCK_FILTERS = Path("/etc/fail2ban/filter.d")
_PACKAGE_GLOB = "/usr/lib/python3*/dist-packages/fail2ban/tests"

_DIRECTIVE = re.compile(r"^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$")
_IGNORED_KEYS = ("time", "match", "desc", "constraint")


@contextlib.contextmanager
def fail2ban_timezone(zone: str = TEST_TZ) -> Iterator[None]:
    """Run the block in a time zone, by default fail2ban's test one (failJSON times are
    local to it)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def package_tests_dir() -> Path | None:
    """fail2ban's installed test folder (sample logs, test filters), or None."""
    found = sorted(glob.glob(_PACKAGE_GLOB))
    return Path(found[-1]) if found and STOCK_FILTERS.is_dir() else None


@dataclass(frozen=True, slots=True)
class Sample:
    """One tested line under one filter-option set."""

    filter_name: str
    instance: str
    options: dict[str, str]
    all_options: dict[str, Any]
    line: str
    expected: dict[str, Any]
    where: str


def _read_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    return [chunk.decode("utf-8", "replace").rstrip("\r\n") for chunk in chunks]


def walk(logs: Path, name: str) -> Iterator[Sample]:
    """The samples of filter `name` in feeding order, as fail2ban's sample test feeds them."""
    filenames = [name]
    common: dict[str, Any] = {}
    instances: list[tuple[str, dict[str, str], dict[str, Any]]] | None = None
    position = 0
    while position < len(filenames):
        filename = filenames[position]
        position += 1
        lines = iter(enumerate(_read_lines(logs / filename), 1))
        ignore_block = False
        for lineno, line in lines:
            directive = _DIRECTIVE.match(line)
            expected: dict[str, Any] = {}
            if directive:
                kind, data = directive.group(1), json.loads(directive.group(2))
                if kind == "fileOptions":
                    common = data
                    continue
                if kind == "filterOptions":
                    instances, ignore_block = [], False
                    for entry in data if isinstance(data, list) else [data]:
                        opts = {**common, **entry} if common else entry
                        if opts.get("test.condition"):
                            scope = {"name": name, "opts": opts}
                            ignore_block = not eval(opts["test.condition"], scope)
                        if not ignore_block:
                            options = {k: v for k, v in opts.items() if not k.startswith("test.")}
                            suffix = (opts.get("test.filter-name")
                                      or (str(options) if options else ""))
                            instances.append((name + suffix, options, opts))
                    continue
                if kind == "addFILE":
                    filenames.append(data)
                    continue
                expected = data
                lineno, line = next(lines)
            elif ignore_block or line.startswith("#") or not line.strip():
                continue
            if ignore_block:
                continue
            if not instances:
                instances = [(name, {}, {})]
            for instance, options, opts in instances:
                constraint = expected.get("constraint")
                if constraint and not eval(constraint, {"name": name, "opts": opts}):
                    continue
                yield Sample(name, instance, options, opts, line, expected, f"{filename}:{lineno}")


def expected_time(text: str) -> float:
    """fail2ban's test reading of a failJSON time: local time in the test time zone."""
    try:
        moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f")
    return time.mktime(moment.timetuple()) + moment.microsecond / 1_000_000


def _same(key: str, got: Any, want: Any) -> bool:
    if isinstance(got, (set, list, tuple, dict)):
        if not isinstance(want, (list, dict)):
            return False
        return sorted(map(str, got)) == sorted(map(str, want))
    if key == "host" and isinstance(got, str) and isinstance(want, str):
        return canonical_host(got) == canonical_host(want)
    return bool(got == want)


def verdict(expected: dict[str, Any], reported: list[dict[str, Any]]) -> str | None:
    """None if the sample passes, else why not. `reported`: contract objects for the line."""
    failures = [r for r in reported if r.get("match")]
    if not expected.get("match", False):
        return None if not failures else f"matched but should not: {failures}"
    if len(failures) != 1:
        return f"expected one failure, got {len(failures)}: {failures}"
    failure = failures[0]
    fields = failure.get("fields") or {}
    for key, want in expected.items():
        if key in _IGNORED_KEYS:
            continue
        got = fields.get(key)
        if got is None and key == "host":
            got = failure.get("host")
        if got is None and key == "attempts":
            got = failure.get("attempts")
        if not _same(key, got, want):
            return f"{key}: got {got!r}, want {want!r}"
    if expected.get("time") is not None:
        want_time = expected_time(expected["time"])
        got_time = failure.get("time")
        if got_time is None or abs(got_time - want_time) > 1e-6:
            return f"time: got {got_time!r}, want {want_time!r} ({expected['time']})"
    return None


@dataclass(slots=True)
class Score:
    """Samples passed and failed for one filter."""

    passed: int = 0
    failed: list[str] = field(default_factory=list)


def filter_paths(tests_dir: Path, workdir: Path) -> dict[str, Path]:
    """Filter name -> file for every filter with samples: the stock ones, and fail2ban's test
    filters placed where their relative include of the stock `common.conf` resolves."""
    logs = tests_dir / "files" / "logs"
    paths = {p.stem: p for p in sorted(STOCK_FILTERS.glob("*.conf"))
             if p.stem != "common" and (logs / p.stem).is_file()}
    nested = workdir.joinpath(*[f"d{i}" for i in range(6)], "filter.d")
    nested.mkdir(parents=True, exist_ok=True)
    shared = workdir / "config" / "filter.d"
    shared.mkdir(parents=True, exist_ok=True)
    shutil.copy(STOCK_FILTERS / "common.conf", shared / "common.conf")
    for source in sorted((tests_dir / "config" / "filter.d").glob("zzz-*.conf")):
        if (logs / source.stem).is_file():
            paths[source.stem] = Path(shutil.copy(source, nested / source.name))
    return paths


Engine = Callable[[Path, dict[str, str], bool], Callable[[str, int], list[dict[str, Any]]]]
"""Builds a line handler for (filter path, options, journal mode)."""


def run_corpus(tests_dir: Path, paths: dict[str, Path], engine: Engine) -> dict[str, Score]:
    """Score every sample; one engine instance per filter and option set, as fail2ban's test."""
    logs = tests_dir / "files" / "logs"
    scores: dict[str, Score] = {}
    for name, path in sorted(paths.items()):
        score = scores.setdefault(name, Score())
        handlers: dict[str, Callable[[str, int], list[dict[str, Any]]]] = {}
        for counter, sample in enumerate(walk(logs, name), 1):
            journal = sample.options.get("logtype") == "journal"
            handler = handlers.get(sample.instance)
            if handler is None:
                handler = handlers[sample.instance] = engine(path, sample.options, journal)
            line = sample.line
            if journal and sample.all_options.get("test.prefix-line"):
                line = sample.all_options["test.prefix-line"] + line
            problem = verdict(sample.expected, handler(line, counter))
            if problem is None:
                score.passed += 1
            else:
                score.failed.append(f"{sample.instance} {sample.where}: {problem}")
    return scores
