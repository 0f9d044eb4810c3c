"""Tests of the per-key sliding windows."""

from __future__ import annotations

from floodwall.detection.windows import SlidingWindows
from floodwall.model import Failure


def _failure(key: str, time: float) -> Failure:
    return Failure("j", key, time, "/log", 1, "line")


def test_decides_at_maxretry_within_findtime_and_resets() -> None:
    windows = SlidingWindows(maxretry=3, findtime=10)
    assert windows.add(_failure("a", 0)) is None
    assert windows.add(_failure("a", 5)) is None
    decided = windows.add(_failure("a", 9))
    assert decided is not None and decided.count == 3
    assert [f.time for f in decided.failures] == [5, 9]  # kept from half the threshold on
    assert windows.count("a") == 0 and len(windows) == 0


def test_window_is_half_open_old_failures_fall_out() -> None:
    windows = SlidingWindows(maxretry=3, findtime=10)
    windows.add(_failure("a", 0))
    windows.add(_failure("a", 5))
    assert windows.add(_failure("a", 10)) is None  # t=0 is not within (0, 10]
    assert windows.count("a") == 2


def test_slow_source_never_decides() -> None:
    windows = SlidingWindows(maxretry=5, findtime=600)
    for attempt in range(60):  # 4 per 10 minutes, for 150 minutes
        assert windows.add(_failure("slow", attempt * 150.0)) is None


def test_out_of_order_failures_are_counted_by_time() -> None:
    windows = SlidingWindows(maxretry=3, findtime=10)
    windows.add(_failure("a", 100))
    windows.add(_failure("a", 50))   # late line from another file, outside (90, 100]
    assert windows.count("a") == 1
    windows.add(_failure("a", 95))   # late, but inside the window: counted
    assert windows.count("a") == 2
    decided = windows.add(_failure("a", 99))
    assert decided is not None and decided.count == 3
    # Evidence is kept from the failure that brought the window to half the threshold on.
    assert [f.time for f in decided.failures] == [95, 99]


def test_memory_released_when_windows_empty() -> None:
    windows = SlidingWindows(maxretry=5, findtime=60)
    for n in range(10_000):
        windows.add(_failure(f"10.0.{n // 256}.{n % 256}", 1000.0))
    assert len(windows) == 10_000
    assert windows.expire(now=1059.0) == 0
    assert windows.expire(now=1060.0) == 10_000
    assert len(windows) == 0


def test_evidence_is_the_newest_failures_from_half_the_threshold() -> None:
    windows = SlidingWindows(maxretry=10, findtime=100)
    assert windows.keep_from == 5
    for second in range(9):
        assert windows.add(_failure("a", float(second))) is None
    decided = windows.add(_failure("a", 9.0))
    assert decided is not None and decided.count == 10
    assert [f.time for f in decided.failures] == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def test_evidence_slides_with_the_window() -> None:
    windows = SlidingWindows(maxretry=4, findtime=10)
    for when in (0.0, 1.0, 2.0):  # evidence from the second failure on
        windows.add(_failure("a", when))
    windows.add(_failure("a", 11.0))  # 0 and 1 fall out: window 2, 11
    assert windows.count("a") == 2
    windows.add(_failure("a", 11.5))
    decided = windows.add(_failure("a", 11.8))
    assert decided is not None and decided.count == 4
    assert [f.time for f in decided.failures] == [2.0, 11.0, 11.5, 11.8]


def test_a_source_that_pauses_longer_than_findtime_starts_over_and_is_still_caught() -> None:
    windows = SlidingWindows(maxretry=3, findtime=10)
    windows.add(_failure("a", 0.0))
    windows.add(_failure("a", 1.0))  # half the threshold: evidence kept from here
    assert windows.add(_failure("a", 30.0)) is None  # both fell out; the evidence too
    assert windows.count("a") == 1
    assert windows.add(_failure("a", 31.0)) is None
    decided = windows.add(_failure("a", 32.0))
    assert decided is not None and decided.count == 3
    assert [f.time for f in decided.failures] == [31.0, 32.0]


def test_maxretry_one_decides_at_once_and_keeps_nothing() -> None:
    windows = SlidingWindows(maxretry=1, findtime=10)
    decided = windows.add(_failure("a", 3.0))
    assert decided is not None and decided.count == 1 and len(windows) == 0


def test_key_limit_evicts_the_oldest_lowest_counts_never_near_threshold() -> None:
    windows = SlidingWindows(maxretry=6, findtime=1000, max_keys=64)
    for second in range(3):  # "hot" reaches half its threshold first: the oldest key
        windows.add(_failure("hot", float(second)))
    windows.add(_failure("warm", 3.0))
    windows.add(_failure("warm", 4.0))
    for n in range(500):
        windows.add(_failure(f"192.0.2.{n % 250}.{n // 250}", 10.0 + n))
    assert len(windows) <= 64 and windows.evicted >= 500 - 64
    assert windows.count("hot") == 3  # never evicted: at half its threshold
    assert windows.count("warm") == 2  # older, but keys with one failure go first
    assert windows.count("192.0.2.249.1") == 1  # the newest stay
    for second in range(3):
        windows.add(_failure("hot", 100.0 + second))
    assert windows.count("hot") == 0  # it crossed and was decided


def test_expired_windows_go_before_anything_is_evicted() -> None:
    windows = SlidingWindows(maxretry=3, findtime=10, max_keys=10)
    for n in range(10):
        windows.add(_failure(f"k{n}", 0.0))
    assert windows.expire(now=20.0) == 10 and windows.evicted == 0


def test_exported_windows_restored_elsewhere_count_on_as_before() -> None:
    before = SlidingWindows(maxretry=4, findtime=10)
    for key, when in (("a", 0), ("a", 2), ("a", 3), ("b", 1)):
        assert before.add(_failure(key, when)) is None
    exported = sorted(before.export())
    assert [(key, times) for key, times, _ in exported] == [("a", [0, 2, 3]), ("b", [1])]
    assert [f.time for f in exported[0][2]] == [2, 3]  # the evidence from half the threshold

    after = SlidingWindows(maxretry=4, findtime=10)
    for key, times, evidence in exported:
        after.restore(key, times, evidence)
    assert (after.count("a"), after.count("b")) == (3, 1)
    decided = after.add(_failure("a", 5))
    assert decided is not None and decided.count == 4
    assert [f.time for f in decided.failures] == [2, 3, 5]
    assert after.add(_failure("b", 20)) is None and after.count("b") == 1  # 1 is out of it


def test_windows_agree_with_a_plain_model_on_random_failures() -> None:
    """Random keys, pauses and late lines against the plain rule: a key decides when
    maxretry of its failures lie within (newest - findtime, newest], then starts over."""
    import random

    rng = random.Random(20261204)
    for maxretry in (1, 2, 3, 4, 5, 10):
        windows = SlidingWindows(maxretry=maxretry, findtime=60)
        model: dict[str, list[float]] = {}
        clock = 0.0
        for _ in range(4000):
            key = f"k{rng.randrange(6)}"
            clock += rng.choice((0.5, 1.0, 5.0, 30.0, 90.0))
            when = clock - rng.choice((0.0, 0.0, 0.0, 10.0, 70.0))  # some lines arrive late
            failure = _failure(key, when)
            times = sorted([*model.get(key, []), when])
            times = [t for t in times if t > times[-1] - 60]
            decided = windows.add(failure)
            if len(times) >= maxretry:
                model.pop(key, None)
                assert decided is not None and decided.count == len(times)
                kept = [f.time for f in decided.failures]
                assert kept == sorted(kept) and set(kept) <= set(times) and when in kept
            else:
                model[key] = times
                assert decided is None
            assert windows.count(key) == len(model.get(key, []))


def test_reconfigured_windows_keep_their_counts_under_the_new_rule() -> None:
    windows = SlidingWindows(maxretry=3, findtime=10, max_keys=100)
    windows.add(_failure("a", 0))
    windows.add(_failure("a", 5))
    windows.reconfigure(maxretry=4, findtime=20, max_keys=None)
    assert (windows.maxretry, windows.findtime, windows.max_keys) == (4, 20, None)
    assert windows.add(_failure("a", 15)) is None  # 3 of 4: t=0 is still within 20s
    decided = windows.add(_failure("a", 16))
    assert decided is not None and decided.count == 4
