"""The line deadline: a search that backtracks without end is interrupted, fast lines never
are, and outside an armed block nothing happens."""

from __future__ import annotations

import re
import signal
import time

import pytest

from floodwall.matching.deadline import LineDeadline, LineTimeout

CATASTROPHIC = re.compile(r"^(\w+\s?)+!$")
EVIL = "a" * 40  # no '!': 2^40 ways to fail


def _search(deadline: LineDeadline, text: str) -> re.Match[str] | None:
    deadline.enter()
    try:
        return CATASTROPHIC.search(text)
    finally:
        deadline.leave()


def test_a_catastrophic_search_is_interrupted_after_the_limit() -> None:
    deadline = LineDeadline(0.2)
    with deadline.armed():
        started = time.monotonic()
        with pytest.raises(LineTimeout):
            _search(deadline, EVIL)
        took = time.monotonic() - started
        assert _search(deadline, "fine words!") is not None  # the next line runs normally
    assert 0.2 <= took < 2.0, took


def test_many_fast_lines_are_never_interrupted_whatever_they_take_together() -> None:
    deadline = LineDeadline(0.05)
    with deadline.armed():
        started, lines = time.monotonic(), 0
        while time.monotonic() - started < 0.3 and lines < 10_000_000:
            assert _search(deadline, "some words here!") is not None
            lines += 1
    assert lines > 1000


def test_waiting_inside_a_line_is_not_counted_only_cpu_time() -> None:
    deadline = LineDeadline(0.05)
    with deadline.armed():
        deadline.enter()
        try:
            time.sleep(0.3)  # descheduled (a loaded machine): wall time passes, CPU does not
        finally:
            deadline.leave()


def test_time_outside_the_filters_is_not_counted() -> None:
    deadline = LineDeadline(0.05)
    with deadline.armed():
        deadline.enter()
        deadline.leave()
        until = time.monotonic() + 0.3
        while time.monotonic() < until:  # busy, but no line is inside
            pass


def test_unarmed_and_unbounded_deadlines_never_interrupt() -> None:
    assert _search(LineDeadline(0.01), "a" * 18) is None  # not armed: runs to its end
    unbounded = LineDeadline(None)
    with unbounded.armed():
        assert _search(unbounded, "a" * 18) is None


def test_arming_restores_the_previous_alarm_handler_and_nests() -> None:
    def mine(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        deadline = LineDeadline(0.1)
        with deadline.armed(), deadline.armed():
            assert signal.getsignal(signal.SIGALRM) is not mine
            with pytest.raises(LineTimeout):
                _search(deadline, EVIL)
        assert signal.getsignal(signal.SIGALRM) is mine
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.signal(signal.SIGALRM, previous)
