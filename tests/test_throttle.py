"""One user's flood is throttled with one notice; other users are unaffected."""

from __future__ import annotations

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
