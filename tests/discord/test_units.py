"""The Discord bot's small parts, without a client: muting and draining.

What it answers is the chat pipeline's (tests/bots/test_pipeline.py).
"""

from __future__ import annotations

import asyncio

import pytest

from bots.discord.guards import InFlight, MutedChannels


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestMutedChannels:
    def test_muting_reports_only_the_first_time(self) -> None:
        """`mute` is true once, so a missing permission is logged once."""
        muted = MutedChannels(60.0, Clock())
        assert [muted.mute(7), muted.mute(7)] == [True, False]
        assert muted.muted(7)
        assert not muted.muted(8)

    def test_a_muted_channel_is_tried_again_later(self) -> None:
        """After the mute time the channel is tried again (the permission may be back)."""
        clock = Clock()
        muted = MutedChannels(60.0, clock)
        muted.mute(7)
        clock.now = 61.0
        assert not muted.muted(7)
        assert muted.mute(7)


class TestInFlight:
    async def test_drain_waits_for_work_in_flight(self) -> None:
        """A stop waits for tracked work to finish and refuses new work meanwhile."""
        in_flight = InFlight()
        release = asyncio.Event()

        async def work() -> None:
            async with in_flight.track():
                await release.wait()

        task = asyncio.create_task(work())
        await asyncio.sleep(0)
        drain = asyncio.create_task(in_flight.drain(10.0))
        await asyncio.sleep(0)
        assert in_flight.stopping
        assert not drain.done()
        release.set()
        assert await drain
        await task

    async def test_drain_gives_up_after_its_grace(self) -> None:
        """Work that never ends does not hold a stop forever."""
        in_flight = InFlight()
        async with in_flight.track():
            assert not await in_flight.drain(0.01)

    async def test_drain_cancels_work_left_after_its_grace(self) -> None:
        """Work still running when the grace is over is cancelled, not left behind."""
        in_flight = InFlight()

        async def work() -> None:
            async with in_flight.track():
                await asyncio.Event().wait()

        task = asyncio.create_task(work())
        await asyncio.sleep(0)
        assert not await in_flight.drain(0.01)
        with pytest.raises(asyncio.CancelledError):
            await task
