"""Decisions waiting for the fleet: kept in the node's SQLite database until Redis took them.

Every decision of this node goes through the queue, connected or not, so one path covers the
normal case, a partition and a crash between deciding and publishing.
"""

from __future__ import annotations

from collections.abc import Sequence

from floodwall.cluster.decisions import FleetDecision
from floodwall.storage.database import Database

BATCH = 500
"""Decisions handed to Redis in one round trip."""


class DecisionQueue:
    """A fleet's unpublished decisions in publication order, durable across restarts."""

    def __init__(self, database: Database, fleet: str) -> None:
        self.database = database
        self.fleet = fleet

    def put(self, decisions: Sequence[FleetDecision]) -> None:
        """Keep decisions until they are published."""
        if decisions:
            self.database.queue_decisions(self.fleet, [d.to_json() for d in decisions])

    def peek(self, limit: int = BATCH) -> list[tuple[int, FleetDecision]]:
        """The oldest waiting decisions with their queue ids."""
        return [(row_id, FleetDecision.from_json(text))
                for row_id, text in self.database.queued_decisions(self.fleet, limit)]

    def done(self, ids: Sequence[int]) -> None:
        """Forget decisions Redis has taken."""
        self.database.unqueue_decisions(ids)

    def __len__(self) -> int:
        return len(self.database.queued_decisions(self.fleet, 1_000_000))
