"""fail2ban's sample corpus through both command-line tools, one process per filter and option
set, as an operator checks filters: `floodwall regex` against `fail2ban-regex`.

    python -m bench.corpus [--runs N]

Every filter with samples in Debian's `fail2ban` package and every option set its samples
name (128 runs for fail2ban 1.0.2): the lines fed to that instance are written to a log of
their own, then each tool reads every log in turn. The figure is the total wall time of all
runs (median of N), and how many runs each tool failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.matching.fail2ban import f2b_samples as samples


@dataclass(frozen=True, slots=True)
class Instance:
    """One filter with one option set, and the log of its sample lines."""

    filter_path: Path
    """The filter file."""
    options: dict[str, str]
    """Its options (`filter = name[...]` arguments)."""
    log: Path
    """The lines fail2ban's sample test feeds this instance, in order."""


@dataclass(frozen=True, slots=True)
class CorpusRun:
    """Both tools over every instance."""

    instances: int
    """Filter and option sets run."""
    lines: int
    """Log lines over all instances."""
    floodwall_seconds: float
    """Median total wall time of `floodwall regex` over every instance."""
    fail2ban_seconds: float
    """Median total wall time of `fail2ban-regex` over the same."""
    floodwall_failed: int
    """Runs `floodwall regex` ended with an error."""
    fail2ban_failed: int
    """Runs `fail2ban-regex` ended with an error."""

    @property
    def ratio(self) -> float:
        """How many times faster floodwall finished."""
        return self.fail2ban_seconds / self.floodwall_seconds if self.floodwall_seconds else 0.0


def instances(work: Path) -> list[Instance]:
    """Every filter and option set of the corpus, each with its log written under `work`."""
    tests_dir = samples.package_tests_dir()
    if tests_dir is None:
        raise RuntimeError("Debian's fail2ban package (filters and sample logs) is not installed")
    logs = tests_dir / "files" / "logs"
    found: list[Instance] = []
    for name, path in sorted(samples.filter_paths(tests_dir, work).items()):
        lines: dict[str, list[str]] = {}
        options: dict[str, dict[str, str]] = {}
        for sample in samples.walk(logs, name):
            line = sample.line
            if sample.options.get("logtype") == "journal" and sample.all_options.get(
                    "test.prefix-line"):
                line = sample.all_options["test.prefix-line"] + line
            lines.setdefault(sample.instance, []).append(line)
            options[sample.instance] = sample.options
        for number, (instance, text) in enumerate(sorted(lines.items())):
            log = work / "logs" / f"{name}.{number}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("\n".join(text) + "\n", encoding="utf-8")
            found.append(Instance(path, options[instance], log))
    return found


def _floodwall(instance: Instance) -> list[str]:
    command = [sys.executable, "-m", "floodwall", "regex"]
    if instance.options:
        command += ["--filter-options", json.dumps(instance.options)]
    return [*command, str(instance.log), str(instance.filter_path)]


def _fail2ban(instance: Instance) -> list[str]:
    target = str(instance.filter_path)
    if instance.options:
        target += "[" + ", ".join(f"{key}={value}" for key, value in instance.options.items()) + "]"
    return ["fail2ban-regex", str(instance.log), target]


def _total(commands: list[list[str]]) -> tuple[float, int]:
    """(wall seconds of all commands run one after the other, how many failed)."""
    failed = 0
    began = time.perf_counter()
    for command in commands:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=120, check=False)
        failed += done.returncode != 0
    return time.perf_counter() - began, failed


def run(runs: int = 3, only: int | None = None) -> CorpusRun:
    """Measure both tools over the corpus (its first `only` instances if given);
    RuntimeError if fail2ban is not installed."""
    if not shutil.which("fail2ban-regex"):
        raise RuntimeError("fail2ban-regex is not installed (Debian package `fail2ban`)")
    work = Path(tempfile.mkdtemp(prefix="floodwall-corpus-"))
    try:
        found = instances(work)[:only]
        ours = [_total([_floodwall(item) for item in found]) for _ in range(runs)]
        theirs = [_total([_fail2ban(item) for item in found]) for _ in range(runs)]
        lines = sum(item.log.read_text(encoding="utf-8").count("\n") for item in found)
        return CorpusRun(len(found), lines, statistics.median(t for t, _ in ours),
                         statistics.median(t for t, _ in theirs), max(f for _, f in ours),
                         max(f for _, f in theirs))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def describe(figures: CorpusRun) -> str:
    """One line for the benchmark table."""
    return (f"corpus: {figures.instances} filter/option sets of fail2ban's samples "
            f"({figures.lines:,} lines), one process each: floodwall regex "
            f"{figures.floodwall_seconds:.1f} s, fail2ban-regex {figures.fail2ban_seconds:.1f} s "
            f"({figures.ratio:.1f}x faster); failed runs {figures.floodwall_failed} / "
            f"{figures.fail2ban_failed}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="median of this many runs")
    args = parser.parse_args(argv)
    try:
        figures = run(args.runs)
    except RuntimeError as problem:
        print(f"corpus case unavailable: {problem}", file=sys.stderr)
        return 1
    print(describe(figures))
    print(json.dumps(asdict(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
