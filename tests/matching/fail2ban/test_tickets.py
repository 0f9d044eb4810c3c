"""The ticket cache and the replay of a run's journal on another starting cache."""

from __future__ import annotations

import copy
import random
from typing import Any

from floodwall.clock import ManualClock
from floodwall.matching.fail2ban.tickets import TicketCache

NOW = 1_000_000.0


def _drive(cache: TicketCache, keys: list[str]) -> list[Any]:
    """An engine-like run: a new key opens a ticket, a known one counts up, the third
    sighting closes it. Returns what each lookup found."""
    seen: list[Any] = []
    for key in keys:
        ticket = cache.get(key)
        seen.append(copy.deepcopy(ticket))
        if ticket is None:
            cache.set(key, {"key": key, "count": 1})
        else:
            ticket["count"] += 1
            if ticket["count"] >= 3:
                cache.discard(key)
    return seen


def _cache(capacity: int, keys: list[str]) -> TicketCache:
    cache = TicketCache(ManualClock(NOW), capacity=capacity)
    _drive(cache, keys)
    return cache


def test_oldest_ticket_is_evicted_at_capacity() -> None:
    cache = _cache(2, ["a", "b", "c"])
    assert [key for key, _, _ in cache.snapshot()] == ["b", "c"]


def test_replay_accepts_exactly_the_runs_that_the_true_start_reproduces() -> None:
    chooser = random.Random(5)
    accepted = refused = 0
    for _ in range(300):
        capacity = chooser.choice([3, 5, 100])
        keys = [f"k{chooser.randrange(12)}" for _ in range(chooser.randrange(0, 30))]
        history = [f"k{chooser.randrange(12)}" for _ in range(chooser.randrange(0, 30))]
        warm = history[len(history) - chooser.randrange(len(history) + 1):]
        true_start = _cache(capacity, history)   # what really came before the range
        guessed = _cache(capacity, warm)         # what a worker's warm-up rebuilt
        start = true_start.snapshot()
        guessed.record()
        seen_guessed = _drive(guessed, keys)
        seen_true = _drive(true_start, keys)
        result = guessed.replay(start, guessed.journal(), guessed.snapshot())
        if result is None:
            refused += 1
            continue
        accepted += 1
        assert seen_guessed == seen_true
        assert result == true_start.snapshot()
    assert accepted > 50 and refused > 50


def test_replay_refuses_a_ticket_found_with_other_content() -> None:
    true_start = _cache(100, ["a"])
    guessed = _cache(100, ["a", "a"])  # the same connection, one line more
    start = true_start.snapshot()
    guessed.record()
    _drive(guessed, ["a"])
    assert guessed.replay(start, guessed.journal(), guessed.snapshot()) is None


def test_replay_keeps_tickets_the_run_never_looked_at() -> None:
    true_start = _cache(100, ["old", "a"])
    guessed = _cache(100, ["a"])
    start = true_start.snapshot()
    guessed.record()
    _drive(guessed, ["a", "b"])
    result = guessed.replay(start, guessed.journal(), guessed.snapshot())
    assert result is not None
    assert [(key, ticket["count"]) for key, ticket, _ in result] == [("old", 1), ("a", 2),
                                                                     ("b", 1)]
