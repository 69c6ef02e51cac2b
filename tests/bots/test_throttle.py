"""One user's flood is throttled with one notice; other users are unaffected."""

from __future__ import annotations

import asyncio

import pytest

from bots.throttle import Admission, Throttle
from config import ThrottleSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_one_notice() -> None:
    """After the burst, the first refusal notifies and later ones are silent."""
    throttle = Throttle(ThrottleSettings(burst=3, per_minute=60), clock=Clock())
    results = [throttle.admit("alice") for _ in range(6)]
    assert results[:3] == [Admission.ALLOW] * 3
    assert results[3] == Admission.REFUSE_AND_NOTIFY
    assert results[4:] == [Admission.REFUSE_SILENTLY] * 2


def test_other_users_unaffected() -> None:
    """Bob keeps his own bucket while Alice is throttled."""
    throttle = Throttle(ThrottleSettings(burst=1, per_minute=1), clock=Clock())
    assert throttle.admit("alice") == Admission.ALLOW
    assert throttle.admit("alice") == Admission.REFUSE_AND_NOTIFY
    assert throttle.admit("bob") == Admission.ALLOW


def test_refill_and_notice_again() -> None:
    """Tokens come back at the configured rate, and a new flood is noticed once more."""
    clock = Clock()
    throttle = Throttle(ThrottleSettings(burst=1, per_minute=60), clock=clock)
    assert throttle.admit("alice") == Admission.ALLOW
    assert throttle.admit("alice") == Admission.REFUSE_AND_NOTIFY
    clock.now += 1.0
    assert throttle.admit("alice") == Admission.ALLOW
    assert throttle.admit("alice") == Admission.REFUSE_AND_NOTIFY


def test_memory_is_bounded() -> None:
    """The oldest users are forgotten past the cap."""
    throttle = Throttle(ThrottleSettings(burst=1, per_minute=1), clock=Clock(), max_users=2)
    throttle.admit("a")
    throttle.admit("b")
    throttle.admit("c")
    assert throttle.admit("a") == Admission.ALLOW  # forgotten, so a fresh bucket


class HeldSleep:
    """An injected sleep that records each delay and returns only when released."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.released = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await self.released.wait()


async def test_a_deferred_image_waits_for_its_token() -> None:
    """Past the burst, `wait` delays each image by the time its token takes to refill, in order."""
    sleep = HeldSleep()
    throttle = Throttle(
        ThrottleSettings(burst=2, per_minute=60, max_deferred=3), clock=Clock(), sleep=sleep
    )
    waits = [asyncio.create_task(throttle.wait("alice")) for _ in range(5)]
    await asyncio.sleep(0)
    assert sleep.delays == [1.0, 2.0, 3.0]  # the first two were in the burst and did not sleep
    sleep.released.set()
    assert await asyncio.gather(*waits) == [Admission.ALLOW] * 5
    assert throttle.dropped == 0


async def test_too_many_waiting_are_dropped_with_one_notice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past `max_deferred` waiting images the rest are refused, logged and counted once per burst."""
    sleep = HeldSleep()
    throttle = Throttle(
        ThrottleSettings(burst=1, per_minute=60, max_deferred=2), clock=Clock(), sleep=sleep
    )
    waits = [asyncio.create_task(throttle.wait("alice")) for _ in range(3)]
    await asyncio.sleep(0)
    assert await throttle.wait("alice") == Admission.REFUSE_AND_NOTIFY
    assert await throttle.wait("alice") == Admission.REFUSE_SILENTLY
    assert await throttle.wait("bob") == Admission.ALLOW  # his own bucket
    assert throttle.dropped == 2
    assert [r.levelname for r in caplog.records if r.name == "bots.throttle"] == ["WARNING"]
    sleep.released.set()
    assert await asyncio.gather(*waits) == [Admission.ALLOW] * 3


async def test_a_refill_lets_images_through_without_waiting() -> None:
    """Once the clock has refilled the bucket, `wait` spends tokens without sleeping."""
    clock, sleep = Clock(), HeldSleep()
    throttle = Throttle(
        ThrottleSettings(burst=2, per_minute=60, max_deferred=2), clock=clock, sleep=sleep
    )
    sleep.released.set()
    assert [await throttle.wait("alice") for _ in range(3)] == [Admission.ALLOW] * 3
    assert sleep.delays == [1.0]
    clock.now += 3.0  # one token pays the reservation back, two refill the burst
    assert [await throttle.wait("alice") for _ in range(2)] == [Admission.ALLOW] * 2
    assert sleep.delays == [1.0]


async def test_a_cancelled_wait_frees_its_place() -> None:
    """A wait cancelled by a stop no longer counts against the user's waiting images."""
    sleep = HeldSleep()
    throttle = Throttle(
        ThrottleSettings(burst=1, per_minute=60, max_deferred=1), clock=Clock(), sleep=sleep
    )
    assert await throttle.wait("alice") == Admission.ALLOW
    waiting = asyncio.create_task(throttle.wait("alice"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    sleep.released.set()
    assert await throttle.wait("alice") == Admission.ALLOW
    assert sleep.delays == [1.0, 2.0]  # the cancelled wait's token stays spent
