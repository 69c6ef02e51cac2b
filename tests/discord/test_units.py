"""The Discord bot's small parts, without a client: muting.

What it answers is the chat pipeline's (tests/bots/test_pipeline.py).
"""

from __future__ import annotations

from bots.discord.answers import MutedChannels


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
