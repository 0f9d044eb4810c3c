"""fail2ban's whole sample corpus through floodwall's engine, scored as fail2ban's test does."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from floodwall.clock import ManualClock
from floodwall.config.fail2ban_filters import load_filter
from floodwall.matching.fail2ban import Fail2banFilter
from tests.matching.fail2ban import f2b_samples as samples

EXPECTED_SAMPLES = 1627
EXPECTED_FILTERS = 91

TESTS_DIR = samples.package_tests_dir()
pytestmark = pytest.mark.skipif(
    TESTS_DIR is None,
    reason="SKIPPED LOUDLY: Debian's fail2ban package (stock filters + sample logs) is not "
           "installed; run `apt-get install -y fail2ban` to score the corpus")


def _engine(path: Path, options: dict[str, str], journal: bool) -> Any:
    engine = Fail2banFilter(load_filter(str(path), options), journal=journal,
                            clock=ManualClock(samples.TEST_NOW))
    return lambda line, lineno: [failure.to_json() for failure in engine.feed(line, lineno)]


def test_every_sample_of_the_corpus_passes(tmp_path: Path, f2b_timezone: None) -> None:
    assert TESTS_DIR is not None
    paths = samples.filter_paths(TESTS_DIR, tmp_path)
    started = time.perf_counter()
    scores = samples.run_corpus(TESTS_DIR, paths, _engine)
    elapsed = time.perf_counter() - started

    print(f"\n{'filter':<34} {'passed':>6} / total")
    for name, score in scores.items():
        total = score.passed + len(score.failed)
        print(f"{name:<34} {score.passed:>6} / {total}{'' if not score.failed else '  FAILING'}")
        for problem in score.failed[:5]:
            print(f"    {problem[:300]}")
    passed = sum(score.passed for score in scores.values())
    total = passed + sum(len(score.failed) for score in scores.values())
    print(f"{'TOTAL':<34} {passed:>6} / {total} in {elapsed:.2f} s")

    assert len(scores) == EXPECTED_FILTERS
    assert total == EXPECTED_SAMPLES
    assert passed == EXPECTED_SAMPLES


def _prefiltered_engine(path: Path, options: dict[str, str], journal: bool) -> Any:
    engine = Fail2banFilter(load_filter(str(path), options), journal=journal,
                            clock=ManualClock(samples.TEST_NOW), prefilter=True)

    def handle(line: str, lineno: int) -> list[dict[str, Any]]:
        failures = engine.feed_buffer(line.encode("utf-8") + b"\n", lineno)
        return [failure.to_json() for failure in failures]

    return handle


def test_the_hyperscan_prefilter_keeps_every_sample(tmp_path: Path, f2b_timezone: None) -> None:
    # Each sample line goes through the buffer path with the prefilter forced on: a line the
    # prefilter wrongly rules out loses its expected failure and fails its sample.
    assert TESTS_DIR is not None
    paths = samples.filter_paths(TESTS_DIR, tmp_path)
    scores = samples.run_corpus(TESTS_DIR, paths, _prefiltered_engine)
    failed = [problem for score in scores.values() for problem in score.failed]
    passed = sum(score.passed for score in scores.values())
    assert failed == [], failed[:10]
    assert passed == EXPECTED_SAMPLES
