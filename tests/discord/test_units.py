"""The Discord bot's small parts, without a client: answers, throttling, muting."""

from __future__ import annotations

import pytest

from bots import replies
from bots.discord.answers import Checker
from bots.discord.inputs import ImageSource
from bots.discord.reply import MutedChannels
from bots.replies import Outcome
from bots.throttle import Throttle
from config import Settings, ThrottleSettings
from core.detector import Detector
from core.errors import CorruptImage, Overloaded
from core.result import Judgement
from tests.fakes import png_bytes


def source(data: bytes, key: str = "k", *, sniff: bool = False) -> ImageSource:
    async def fetch() -> bytes:
        return data

    return ImageSource(key, fetch, sniff=sniff)


def broken_source() -> ImageSource:
    async def fetch() -> bytes:
        raise KeyError("a bug while fetching")

    return ImageSource("broken", fetch)


def checker(settings: Settings, detector: Detector, burst: int = 10) -> Checker:
    throttle = ThrottleSettings(burst=burst, per_minute=0.01)
    tuned = settings.model_copy(update={"throttle": throttle})
    return Checker(tuned, detector, Throttle(throttle))


class TestChecker:
    async def test_unlabelled_files_that_are_not_images_drop_out(
        self, settings: Settings, detector: Detector
    ) -> None:
        """A file checked only by its bytes is skipped quietly when it is not an image."""
        outcomes = await checker(settings, detector).outcomes(
            [source(b"plain text", sniff=True), source(png_bytes(3), sniff=True)]
        )
        assert [type(outcome) for outcome in outcomes] == [Judgement]

    async def test_a_labelled_file_that_is_not_an_image_is_refused(
        self, settings: Settings, detector: Detector
    ) -> None:
        """A file that claims to be an image gets the core's refusal."""
        [outcome] = await checker(settings, detector).outcomes([source(b"\x89PNG\r\n\x1a\nbad")])
        assert isinstance(outcome, CorruptImage)

    async def test_a_bug_surfaces_as_itself(self, settings: Settings, detector: Detector) -> None:
        """An unexpected error is raised unwrapped, so it is logged with its own traceback."""
        with pytest.raises(KeyError, match="a bug while fetching"):
            await checker(settings, detector).outcomes([source(png_bytes(4)), broken_source()])

    async def test_busy_only_when_nothing_was_judged(
        self, settings: Settings, detector: Detector
    ) -> None:
        """Overload alone reads as busy; next to a verdict it is one line among others."""
        judged = await detector.judge(png_bytes(5))
        check = checker(settings, detector)
        assert check.text([Overloaded(), CorruptImage()]) == replies.BUSY
        mixed: list[Outcome] = [judged, Overloaded()]
        assert check.text(mixed) == replies.outcomes_text(mixed, settings.replies)
        assert check.text([]) is None

    async def test_throttled_user_is_told_once_in_channels_but_always_when_asking(
        self, settings: Settings, detector: Detector
    ) -> None:
        """In channels the notice comes once per burst; a direct request always gets it."""
        check = checker(settings, detector, burst=1)
        first = await check.check(1, [source(png_bytes(6))], must_answer=False)
        answers = [await check.check(1, [source(png_bytes(7))], must_answer=False) for _ in "ab"]
        asked = await check.check(1, [source(png_bytes(8))], must_answer=True)
        assert first is not None
        assert replies.THROTTLED not in first
        assert answers == [replies.THROTTLED, None]
        assert asked == replies.THROTTLED


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

    def test_memory_is_bounded(self) -> None:
        """Past its capacity the channel muted longest ago is forgotten first."""
        muted = MutedChannels(60.0, Clock(), capacity=2)
        for channel in (1, 2, 3):
            muted.mute(channel)
        assert [muted.muted(channel) for channel in (1, 2, 3)] == [False, True, True]
