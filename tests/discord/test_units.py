"""The Discord bot's small parts, without a client: muting, replies fitted to one message.

What it answers is the chat pipeline's (tests/bots/test_pipeline.py).
"""

from __future__ import annotations

from typing import Any, cast

import discord
import pytest

from bots.discord.answers import MutedChannels, check_declared_size, fitted
from bots.discord.translator import valid_slash_name
from bots.i18n import english
from bots.replies import DISCLAIMER, cut_short
from core.errors import ClipTooLarge, ImageTooLarge

ENGLISH = english()


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
        assert kept[-2] == cut_short(ENGLISH, 20 - (len(kept) - 2))


class Offline:
    """A connection state with no HTTP client: the attachment is never downloaded here."""

    http = None


def attachment(name: str, label: str | None, size: int) -> discord.Attachment:
    """An attachment as the gateway describes it."""
    data: dict[str, Any] = {"id": "1", "filename": name, "size": size, "url": "", "proxy_url": ""}
    if label is not None:
        data["content_type"] = label
    return discord.Attachment(data=cast(Any, data), state=cast(Any, Offline()))


class TestDeclaredSize:
    IMAGES, VIDEO = 1000, 5000

    @pytest.mark.parametrize(
        ("name", "label", "size", "refusal"),
        [
            ("a.mp4", "video/mp4", 5000, None),
            ("a.mp4", "video/mp4", 5001, ClipTooLarge),
            ("a.webm", None, 5001, ClipTooLarge),  # unlabelled: its name says video
            ("a.gif", "image/gif", 1000, None),
            ("a.gif", "image/gif", 1001, ImageTooLarge),
            ("a.png", "application/octet-stream", 1001, ImageTooLarge),
            ("upload", None, 5000, None),  # says nothing: the larger cap, then its bytes decide
            ("upload", None, 5001, ClipTooLarge),
        ],
    )
    def test_each_kind_is_held_to_its_own_cap(
        self, name: str, label: str | None, size: int, refusal: type[ImageTooLarge] | None
    ) -> None:
        """A video may declare up to the video cap, an image (a GIF too) the image cap."""
        checked = attachment(name, label, size)
        if refusal is None:
            check_declared_size(checked, self.IMAGES, self.VIDEO)
            return
        with pytest.raises(refusal) as refused:
            check_declared_size(checked, self.IMAGES, self.VIDEO)
        assert type(refused.value) is refusal


class TestCommandNames:
    @pytest.mark.parametrize(
        "name", ["check", "new-members", "timeout_minutes", "проверка", "检查", "जाँच", "ตรวจสอบ"]
    )
    def test_lowercase_letters_digits_and_indic_scripts_are_names(self, name: str) -> None:
        """Discord's pattern: letters and digits of any script (Devanagari and Thai with their
        marks), `-` and `_`, lowercase."""
        assert valid_slash_name(name)

    @pytest.mark.parametrize(
        "name", ["", "Check", "two words", "a.b", "x" * 33, "ПРОВЕРКА", "check!"]
    )
    def test_anything_else_is_refused(self, name: str) -> None:
        """Capitals, spaces, punctuation and more than 32 characters are not names."""
        assert not valid_slash_name(name)
