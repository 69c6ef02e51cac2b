"""The chat pipeline with clips, judged by the real Detector and the tiny model: a flagged clip
is one upload, called a video or an animation, and an unlabelled file counts when its bytes are
a clip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bots import moderation_replies, replies
from bots.delivery import SeenMessages
from bots.i18n import Catalogs, english
from bots.moderation_replies import reply_bands
from bots.pipeline import Pipeline
from bots.throttle import Throttle
from config import ReplySettings, ThrottleSettings
from core.detector import Detector
from core.moderation.types import Action, ChatPolicy, Mode
from core.result import Media
from tests.bots.pipeline_fakes import CHAT, FakePort, event, post
from tests.core.memory_store import MemoryStore
from tests.sample_clips import H264_MP4, animation_bytes, noise_frames, video_bytes

ENGLISH = english()

BANDS = ReplySettings()
FLAG_ALL = ChatPolicy(
    mode=Mode.FLAG_ONLY,
    threshold=0.0,  # every upload is flagged, whatever the random model says
    modlog="modlog",
    actions=frozenset({Action.WARN, Action.MODLOG}),
    explicit_mode=True,
)
CLIPS = {
    "video": video_bytes(noise_frames(12, seed=1), H264_MP4),
    "animation": animation_bytes(noise_frames(10, seed=2), "GIF"),
}


def pipeline(detector: Detector, store: MemoryStore) -> Pipeline:
    throttle = ThrottleSettings()
    return Pipeline(
        detector,
        store,
        Throttle(throttle),
        SeenMessages(),
        Catalogs.load(),
        bands=BANDS,
        burst=throttle.burst,
    )


@pytest.mark.parametrize("media", [Media.VIDEO, Media.ANIMATION])
async def test_a_flagged_clip_is_one_upload_called_by_its_media(
    detector: Detector, media: Media
) -> None:
    """One judgement, one flag with the clip's probability, one scan; the warning calls it a
    video or an animation, and the flag tells the mod-log post so."""
    store = MemoryStore()
    await store.save_policy(CHAT, FLAG_ALL)
    clip = CLIPS[media.value]
    fake = FakePort({"c": clip})
    await pipeline(detector, store).run(event(post("m1", "c")), fake)
    judgement = await detector.judge(clip)
    warning = moderation_replies.warning_text(ENGLISH, judgement.fake_probability, media.value)
    assert fake.calls == [
        ("fetch", "c"),
        ("warn", "m1", warning, "1"),
        ("post_flag", "m1", "1", "modlog"),
    ]
    flag = await store.get_flag(1)
    assert flag is not None
    assert flag.flag.media is media
    assert flag.flag.fake_probability == judgement.fake_probability
    assert await store.get_flag(2) is None
    stats = await store.stats(CHAT, datetime(2000, 1, 1, tzinfo=UTC))
    assert stats.scanned == 1


async def test_an_unlabelled_file_counts_when_its_bytes_are_a_clip(detector: Detector) -> None:
    """A file with no useful label is answered when its bytes are a video, and dropped quietly
    when they are neither an image nor a clip."""
    store = MemoryStore()
    answering = replace(FLAG_ALL, mode=Mode.REPLY_ALL, threshold=1.0, actions=frozenset())
    await store.save_policy(CHAT, answering)
    fake = FakePort({"clip": CLIPS["video"], "notes": b"shopping list: eggs, milk"})
    await pipeline(detector, store).run(event(post("m1", "notes", "clip", sniff=True)), fake)
    judgement = await detector.judge(CLIPS["video"])
    text = replies.answer_text(ENGLISH, [judgement], reply_bands(answering))
    assert fake.calls == [("fetch", "notes"), ("fetch", "clip"), ("reply", text or "", "")]
    assert "frames, most suspicious at" in fake.calls[-1][1]
