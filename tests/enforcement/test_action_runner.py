"""The action runner: calls in order within a jail, jails side by side, failures contained."""

from __future__ import annotations

import functools
import logging
import threading

import pytest

from floodwall.enforcement.action_runner import ActionRunner


def test_calls_run_in_order_per_jail_and_a_blocked_jail_holds_up_no_other() -> None:
    runner = ActionRunner(threads=2)
    gate = threading.Event()
    order: list[str] = []

    def gated() -> None:
        gate.wait(10)
        order.append("slow-1")

    runner.submit("slow", gated)
    runner.submit("slow", lambda: order.append("slow-2"))
    for name in ("fast-0", "fast-1", "fast-2"):
        runner.submit("fast", functools.partial(order.append, name))
    assert not runner.settle(0.3)
    assert order == ["fast-0", "fast-1", "fast-2"]  # slow-1 still waits for its gate
    assert runner.pending() == {"slow": 2, "fast": 0}
    gate.set()
    assert runner.settle(10)
    assert order[3:] == ["slow-1", "slow-2"] and runner.pending() == {"slow": 0, "fast": 0}
    runner.close()


def test_a_call_that_raises_is_logged_and_the_jail_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    runner = ActionRunner()
    done: list[int] = []

    def broken() -> None:
        raise RuntimeError("a bug in an action")

    with caplog.at_level(logging.ERROR, logger="floodwall.enforcement"):
        runner.submit("sshd", broken)
        runner.submit("sshd", lambda: done.append(1))
        assert runner.settle(10)
    assert done == [1]
    assert any("an action call failed unexpectedly" in r.getMessage() for r in caplog.records)
    runner.close()
