"""Tests of the durable queue of decisions waiting for Redis."""

from __future__ import annotations

from pathlib import Path

from floodwall.cluster.decisions import FleetDecision
from floodwall.cluster.queue import DecisionQueue
from floodwall.model import Ban
from floodwall.storage.database import Database


def test_decisions_wait_in_order_across_a_restart_until_done(tmp_path: Path) -> None:
    ban = Ban("192.0.2.7", "web", 100.0, 200.0, 3, "local", "3 failures")
    decisions = [FleetDecision.ban(ban, "gw1"), FleetDecision.unban(ban, "gw1", 150.0)]
    database = Database(tmp_path / "state.sqlite3")
    queue = DecisionQueue(database, "edge")
    queue.put(decisions)
    DecisionQueue(database, "other").put(decisions[:1])
    database.close()

    database = Database(tmp_path / "state.sqlite3")  # the node restarted
    queue = DecisionQueue(database, "edge")
    assert len(queue) == 2
    waiting = queue.peek()
    assert [decision for _, decision in waiting] == decisions
    assert queue.peek(limit=1) == waiting[:1]
    queue.done([row_id for row_id, _ in waiting])
    assert len(queue) == 0 and len(DecisionQueue(database, "other")) == 1
    database.close()
