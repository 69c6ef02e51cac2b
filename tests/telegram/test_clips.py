"""Clips on Telegram end to end: the real PTB client, the fake Bot API, the tiny random model.

Videos, GIFs (which Telegram converts to MP4 `animation`s), round video notes, WebM video
stickers and video files each get the clip's reply: one verdict, its frames and its most
suspicious moment. The clips are made in the tests (`tests.sample_clips`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots import moderation_replies, replies
from bots.i18n import english
from bots.telegram.media import MiB, too_large_error
from config import Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode
from tests.judges import expected
from tests.sample_clips import H264_MP4, VP9_WEBM, noise_frames, video_bytes
from tests.telegram.fake_telegram import FakeTelegram, isolated_fake
from tests.telegram.fake_telegram_mod import GROUP, MEMBER, MODLOG, ModFake, isolated_mod_fake
from tests.telegram.telegram_harness import bot_settings, running_bot
from tests.telegram.telegram_payloads import Json

ENGLISH = english()

pytestmark = pytest.mark.slow

CLIP_LINE = "frames, most suspicious at"
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)

fake = pytest.fixture(isolated_fake)
mod_fake = pytest.fixture(isolated_mod_fake)


def mp4(seed: int) -> bytes:
    """A 12-frame H.264 MP4 of distinct noise pictures: more frames than are sampled."""
    return video_bytes(noise_frames(12, seed=seed), H264_MP4)


def webm(seed: int) -> bytes:
    return video_bytes(noise_frames(12, seed=seed), VP9_WEBM)


def quoted(reply: Json) -> int:
    message_id: int = reply["reply_parameters"]["message_id"]
    return message_id


class TestClips:
    async def test_every_kind_of_clip_gets_the_clip_reply(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """A video, a GIF (an MP4 animation), a video note, a WebM video sticker, a video file
        and an unlabelled file holding a WebM are each answered about the whole clip."""
        clips = [mp4(1), mp4(2), mp4(3), webm(4), mp4(5), webm(6)]
        messages = [
            fake.video(clips[0]),
            fake.animation(clips[1]),
            fake.video_note(clips[2]),
            fake.sticker(clips[3], video=True),
            fake.document(clips[4], "holiday.mp4", "video/mp4"),
            fake.document(clips[5], "clip", "application/octet-stream"),
        ]
        configured = bot_settings(settings, fake)
        async with running_bot(fake, configured, detector):
            for message in messages:
                fake.push(message)
            sent = await fake.wait_for("sendMessage", len(messages))
        by_message = {quoted(reply): reply["text"] for reply in sent}
        for message, clip in zip(messages, clips, strict=True):
            text = by_message[message["message_id"]]
            assert text == await expected(detector, configured, clip)
            assert CLIP_LINE in text
        # The clip itself was downloaded, never its thumbnail (nor an animation twice).
        fetched = [call["file_id"] for call in fake.sent("getFile")]
        assert not [file_id for file_id in fetched if file_id in _thumbnails(messages)]
        assert len(fetched) == len(messages)

    async def test_a_video_over_the_bot_download_limit_is_refused_without_getfile(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """A video declared over 20 MB is refused from its `file_size`, naming Telegram's limit;
        getFile is never called (it would fail for a bot)."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            fake.push(fake.video(mp4(7), size=21 * MiB))
            [reply] = await fake.wait_for("sendMessage")
        assert reply["text"] == replies.error_text(ENGLISH, too_large_error(20 * MiB))
        assert "over Telegram's 20 MB download limit for bots" in reply["text"]
        assert fake.called("getFile") == []

    async def test_check_in_reply_to_a_video_answers_about_the_clip(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """`/check` answering a video (seen before, or sent while the bot was away) judges it."""
        clip = mp4(8)
        configured = bot_settings(settings, fake)
        video = fake.video(clip)
        async with running_bot(fake, configured, detector):
            fake.push(fake.command("/check", reply_to=video))
            [reply] = await fake.wait_for("sendMessage")
        assert reply["text"] == await expected(detector, configured, clip)


def _thumbnails(messages: list[Json]) -> set[str]:
    found = set()
    for message in messages:
        for key in ("video", "animation", "video_note", "sticker"):
            if key in message and "thumbnail" in message[key]:
                found.add(message[key]["thumbnail"]["file_id"])
    return found


class TestModeration:
    async def test_a_flagged_video_is_one_upload_called_a_video(
        self, mod_fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """The warning and the mod-log post call a flagged clip a video; the flag and the
        count hold the clip's one probability."""
        key = ChatKey("telegram", str(GROUP))
        actions = frozenset({Action.WARN, Action.MODLOG})
        policy = ChatPolicy(
            mode=Mode.FLAG_ONLY, threshold=0.0, actions=actions, modlog=str(MODLOG)
        )
        await store.save_policy(key, policy)
        clip = mp4(9)
        async with running_bot(mod_fake, bot_settings(settings, mod_fake), detector, store=store):
            mod_fake.push(mod_fake.video(clip, chat_id=GROUP, user_id=MEMBER))
            [post] = await mod_fake.wait_posted(MODLOG)
            await mod_fake.wait_until(lambda: bool(mod_fake.posted_to(GROUP)))
        judgement = await detector.judge(clip)
        [warning] = mod_fake.posted_to(GROUP)
        assert warning["text"] == moderation_replies.warning_text(
            ENGLISH, judgement.fake_probability, "video"
        )
        assert post["text"].startswith("🚩 Flag #1: a video by ")
        flag = await store.get_flag(1)
        assert flag is not None
        assert flag.flag.fake_probability == judgement.fake_probability
        assert flag.flag.sha256 == judgement.sha256
        stats = await store.stats(key, _LONG_AGO)
        assert stats.scanned == 1
