"""A redelivered message is claimed once; a stop waits for the work in flight, then cancels it."""

from __future__ import annotations

import asyncio

import pytest

from bots.delivery import InFlight, SeenMessages


class TestSeenMessages:
    async def test_a_key_is_claimed_once(self) -> None:
        """A redelivered message key is claimed only the first time."""
        seen = SeenMessages(capacity=2)
        assert await seen.claim("tg:1:10")
        assert not await seen.claim("tg:1:10")
        assert await seen.claim("tg:1:11")
        assert await seen.claim("tg:1:12")
        assert await seen.claim("tg:1:10")  # evicted past the capacity

    async def test_a_repeat_keeps_its_key_longest(self) -> None:
        """Past the capacity, the key claimed or repeated least recently is forgotten first."""
        seen = SeenMessages(capacity=2)
        assert await seen.claim("a")
        assert await seen.claim("b")
        assert not await seen.claim("a")  # `b` is now the least recent
        assert await seen.claim("c")
        assert not await seen.claim("a")
        assert await seen.claim("b")


class TestInFlight:
    async def test_drain_waits_for_work_in_flight(self) -> None:
        """A stop waits for tracked work to finish and refuses new work meanwhile."""
        in_flight = InFlight()
        release = asyncio.Event()

        async def work() -> None:
            with in_flight.track():
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

    async def test_drain_without_work_returns_at_once(self) -> None:
        """Nothing tracked (or all of it finished): the stop does not wait."""
        in_flight = InFlight()
        with in_flight.track():
            pass
        assert await in_flight.drain(10.0)

    async def test_nested_work_of_one_task_is_waited_for_to_the_end(self) -> None:
        """A task tracking inside tracked work is still in flight after the inner part ends."""
        in_flight = InFlight()
        inner_done, release = asyncio.Event(), asyncio.Event()

        async def work() -> None:
            with in_flight.track():
                with in_flight.track():
                    pass
                inner_done.set()
                await release.wait()

        task = asyncio.create_task(work())
        await inner_done.wait()
        drain = asyncio.create_task(in_flight.drain(10.0))
        await asyncio.sleep(0)
        assert not drain.done()
        release.set()
        assert await drain
        await task

    async def test_drain_gives_up_after_its_grace(self) -> None:
        """Work that never ends does not hold a stop forever, and the caller is not cancelled."""
        in_flight = InFlight()
        with in_flight.track():
            assert not await in_flight.drain(0.01)

    async def test_drain_cancels_work_left_after_its_grace(self) -> None:
        """Work still running when the grace is over is cancelled, not left behind."""
        in_flight = InFlight()

        async def work() -> None:
            with in_flight.track():
                await asyncio.Event().wait()

        task = asyncio.create_task(work())
        await asyncio.sleep(0)
        assert not await in_flight.drain(0.01)
        with pytest.raises(asyncio.CancelledError):
            await task

    async def test_cancel_all_cancels_tracked_tasks_only(self) -> None:
        """Tasks inside `track()` are cancelled; finished ones are forgotten."""
        in_flight = InFlight()
        started = asyncio.Event()

        async def handler(block: bool) -> None:
            with in_flight.track():
                started.set()
                if block:
                    await asyncio.Event().wait()

        await handler(block=False)
        started.clear()
        stuck = asyncio.create_task(handler(block=True))
        await started.wait()
        assert in_flight.cancel_all() == 1
        with pytest.raises(asyncio.CancelledError):
            await stuck
        assert in_flight.cancel_all() == 0
