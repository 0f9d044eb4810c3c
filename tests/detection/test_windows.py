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
    assert decided is not None and [f.time for f in decided] == [0, 5, 9]
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
    assert decided is not None and [f.time for f in decided] == [95, 99, 100]


def test_memory_released_when_windows_empty() -> None:
    windows = SlidingWindows(maxretry=5, findtime=60)
    for n in range(10_000):
        windows.add(_failure(f"10.0.{n // 256}.{n % 256}", 1000.0))
    assert len(windows) == 10_000
    assert windows.expire(now=1059.0) == 0
    assert windows.expire(now=1060.0) == 10_000
    assert len(windows) == 0
