"""The pacer: one caller at a time, each a full interval after the previous one ended."""

from __future__ import annotations

import asyncio
import itertools
import time

from floodwall.pacing import Pacer


def test_each_turn_starts_an_interval_after_the_previous_one_ended() -> None:
    pacer = Pacer(0.1)
    spans: list[tuple[float, float]] = []

    async def act(duration: float) -> None:
        async with pacer.turn():
            started = time.monotonic()
            await asyncio.sleep(duration)
            spans.append((started, time.monotonic()))

    async def main() -> None:
        await asyncio.gather(act(0.15), act(0.0), act(0.05))

    asyncio.run(main())
    assert len(spans) == 3
    for (_, previous_end), (start, _) in itertools.pairwise(spans):
        assert start - previous_end >= 0.1, spans


def test_a_failing_action_still_spaces_the_next() -> None:
    pacer = Pacer(0.1)
    starts: list[float] = []

    async def fail() -> None:
        async with pacer.turn():
            starts.append(time.monotonic())
            raise OSError("refused")

    async def main() -> None:
        results = await asyncio.gather(fail(), fail(), return_exceptions=True)
        assert all(isinstance(result, OSError) for result in results)

    asyncio.run(main())
    assert starts[1] - starts[0] >= 0.1
