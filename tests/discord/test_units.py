"""The Discord bot's small parts, without a client: muting, replies fitted to one message.

What it answers is the chat pipeline's (tests/bots/test_pipeline.py).
"""

from __future__ import annotations

from bots.discord.answers import MutedChannels, fitted
from bots.i18n import Catalogs
from bots.replies import DISCLAIMER, cut_short

ENGLISH = Catalogs.load().words("en")


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


class TestFitted:
    def test_a_reply_within_the_limit_is_kept_whole(self) -> None:
        """Up to the limit nothing is cut."""
        text = "\n".join(["Image 1: fine", "Image 2: fine", DISCLAIMER])
        assert fitted(ENGLISH, text, limit=len(text)) == text

    def test_a_long_reply_keeps_the_first_lines_a_note_and_the_disclaimer(self) -> None:
        """The lines that fit, how many were left out, and the disclaimer last."""
        lines = [f"Image {i}: " + "x" * 40 for i in range(1, 21)]
        shown = fitted(ENGLISH, "\n".join([*lines, DISCLAIMER]), limit=400)
        kept = shown.split("\n")
        assert len(shown) <= 400
        assert kept[-1] == DISCLAIMER
        assert kept[:-2] == lines[: len(kept) - 2]
        assert kept[-2] == cut_short(20 - (len(kept) - 2))
