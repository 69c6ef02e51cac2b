"""A clip judged through the Detector: its frames in shared batches, once each, one answer.

`FakeClassifier` scores a frame by its top-left red value (red / 255), so a clip's frames
carry known scores; its batches are recorded, so sharing and deduplication are visible.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable

import pytest
from PIL import Image

from config import VideoSettings
from core.clips import top_quarter
from core.errors import DamagedClip, NoPicture, Overloaded, ShuttingDown
from core.preprocess import PixelArray
from core.result import Judgement, Media, Scores, Verdict
from tests.core.detectors import DetectorFactory
from tests.fakes import FakeClassifier, Gate, no_unhandled_loop_errors, png_bytes
from tests.judges import CHECK_JSON_FIELDS
from tests.sample_clips import (
    LOSSLESS_MKV,
    animation_bytes,
    audio_only,
    red_frames,
    video_bytes,
)


def scores(fake: float) -> Scores:
    return Scores(fake, {"Real": 1 - fake, "Fake": fake})


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    async with no_unhandled_loop_errors():
        yield


async def answered(task: Awaitable[Judgement]) -> Judgement:
    async with asyncio.timeout(10):
        return await task


class TestTopQuarter:
    def test_a_swapped_face_in_a_few_frames_counts(self) -> None:
        """Two fake frames of eight are the top quarter: the clip scores as they do."""
        frames = [scores(0.9)] * 2 + [scores(0.1)] * 6
        assert top_quarter(frames).fake_probability == pytest.approx(0.9)
        assert sum(s.fake_probability for s in frames) / 8 == pytest.approx(0.3)  # the mean

    def test_one_noisy_frame_does_not_decide(self) -> None:
        """One high frame of eight is averaged with the next: it counts half, not all."""
        frames = [scores(0.7)] + [scores(0.2)] * 7
        assert top_quarter(frames).fake_probability == pytest.approx(0.45)  # the max says 0.7

    def test_quarter_rounds_up_and_is_at_least_one(self) -> None:
        """One frame is the clip; five frames use their top two."""
        assert top_quarter([scores(0.6)]).fake_probability == pytest.approx(0.6)
        five = [scores(p) for p in (0.1, 0.9, 0.5, 0.3, 0.7)]
        assert top_quarter(five).fake_probability == pytest.approx(0.8)

    def test_classes_agree_with_the_fake_probability(self) -> None:
        """Every class is averaged over the same frames: they still sum to one."""
        clip = top_quarter([scores(p) for p in (0.2, 0.8, 0.4, 0.6)])
        assert clip.classes["Fake"] == pytest.approx(clip.fake_probability) == 0.8
        assert sum(clip.classes.values()) == pytest.approx(1.0)


class HeldAtSecondFrame(FakeClassifier):
    """Holds the decode thread as it prepares a clip's second frame, until the test lets go."""

    def __init__(self) -> None:
        super().__init__()
        self.second = Gate(opened=False)
        self._prepared = 0

    def prepare(self, image: Image.Image) -> PixelArray:
        self._prepared += 1
        if self._prepared == 2:
            self.second.pass_through()
        return super().prepare(image)


class TestDetectorClips:
    REDS = (20, 40, 60, 80, 100, 120, 220, 240)  # an 8-frame animation: each frame sampled

    async def test_each_frame_scored_and_the_clip_from_its_top_quarter(
        self, make_detector: DetectorFactory
    ) -> None:
        """Every sampled frame reports its own index, time and score; the clip its top quarter."""
        detector = await make_detector(FakeClassifier())
        data = animation_bytes(red_frames(self.REDS, distinct=True), "GIF", 250)
        judgement = await answered(detector.judge(data))
        assert judgement.media is Media.ANIMATION
        assert judgement.clip is not None
        assert [f.index for f in judgement.clip.frames] == list(range(8))
        assert [f.time_s for f in judgement.clip.frames] == [i / 4 for i in range(8)]
        assert [f.fake_probability for f in judgement.clip.frames] == pytest.approx(
            [red / 255 for red in self.REDS]
        )
        assert judgement.fake_probability == pytest.approx((220 + 240) / 2 / 255)
        assert judgement.verdict is Verdict.FAKE
        assert judgement.sha256 == hashlib.sha256(data).hexdigest()
        assert judgement.clip.duration_s == 2.0
        assert judgement.clip.frames_decoded == 8
        assert judgement.clip.most_suspicious.index == 7

    async def test_verdict_follows_the_threshold(self, make_detector: DetectorFactory) -> None:
        """As for a photo: FAKE at or above the threshold, from the clip's own probability."""
        clip_probability = (220 + 240) / 2 / 255
        detector = await make_detector(FakeClassifier(), threshold=clip_probability + 0.01)
        data = animation_bytes(red_frames(self.REDS, distinct=True), "WEBP", 250)
        judgement = await answered(detector.judge(data))
        assert judgement.fake_probability == pytest.approx(clip_probability)
        assert judgement.verdict is Verdict.REAL

    async def test_frames_share_batches_with_other_requests(
        self, make_detector: DetectorFactory
    ) -> None:
        """A clip's frames and a photo that arrive together go through the model together."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model, max_wait_ms=50)
        holder = asyncio.create_task(detector.judge(png_bytes(1)))
        await model.gate.arrived()  # the first batch holds the model thread
        clip = asyncio.create_task(
            detector.judge(video_bytes(red_frames([30, 60, 90]), LOSSLESS_MKV))
        )
        photo = asyncio.create_task(detector.judge(png_bytes(200)))
        for _ in range(500):
            if detector.depth >= 5:  # the held photo, three frames and the other photo
                break
            await asyncio.sleep(0.01)
        model.gate.open()
        await answered(asyncio.gather(holder, clip, photo))  # type: ignore[arg-type]
        assert model.batches[0] == [1]
        assert sorted(model.batches[1]) == [30, 60, 90, 200]

    async def test_frames_reach_the_model_while_the_clip_decodes(
        self, make_detector: DetectorFactory
    ) -> None:
        """The first frame is judged before the second has finished decoding."""
        model = HeldAtSecondFrame()
        detector = await make_detector(model)
        clip = asyncio.create_task(
            detector.judge(animation_bytes(red_frames([10, 20, 30]), "GIF"))
        )
        await model.second.arrived()
        for _ in range(500):
            if model.batches:
                break
            await asyncio.sleep(0.01)
        assert model.batches == [[10]]
        model.second.open()
        judgement = await answered(clip)
        assert judgement.clip is not None
        assert [f.fake_probability for f in judgement.clip.frames] == [
            10 / 255,
            20 / 255,
            30 / 255,
        ]

    async def test_identical_frames_are_judged_once(self, make_detector: DetectorFactory) -> None:
        """A still video's eight sampled frames are one model input, each still reported."""
        model = FakeClassifier()
        detector = await make_detector(model)
        judgement = await answered(
            detector.judge(video_bytes(red_frames([150] * 100), LOSSLESS_MKV))
        )
        assert model.images_seen == 1
        assert judgement.clip is not None
        assert len(judgement.clip.frames) == 8
        assert [f.fake_probability for f in judgement.clip.frames] == [150 / 255] * 8

    async def test_identical_frames_across_clips_in_flight(
        self, make_detector: DetectorFactory
    ) -> None:
        """Two clips in flight together that share frames share those frames' inference."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model)
        first = asyncio.create_task(
            detector.judge(animation_bytes(red_frames([10, 20, 30]), "GIF"))
        )
        await model.gate.arrived()
        second = asyncio.create_task(
            detector.judge(animation_bytes(red_frames([10, 20, 40]), "PNG"))
        )
        for _ in range(500):
            if detector.depth >= 4:  # the first clip's three frames and the one new frame
                break
            await asyncio.sleep(0.01)
        model.gate.open()
        await answered(asyncio.gather(first, second))  # type: ignore[arg-type]
        assert sorted(red for batch in model.batches for red in batch) == [10, 20, 30, 40]

    async def test_cached_by_the_files_sha256(self, make_detector: DetectorFactory) -> None:
        """The same file again is answered from the cache, frames and all, without the model."""
        model = FakeClassifier()
        detector = await make_detector(model)
        data = animation_bytes(red_frames(self.REDS, distinct=True), "GIF")
        first = await answered(detector.judge(data))
        seen = model.images_seen
        again = await answered(detector.judge(data))
        assert model.images_seen == seen
        assert again.cached
        assert not first.cached
        assert again.clip == first.clip
        assert again.fake_probability == first.fake_probability

    async def test_a_clip_the_queue_cannot_take_is_overloaded(
        self, make_detector: DetectorFactory
    ) -> None:
        """A clip needs a queue slot per frame; without them it is refused like an image."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model, max_batch_size=1, max_pending=2)
        holder = asyncio.create_task(detector.judge(png_bytes(1)))
        await model.gate.arrived()
        with pytest.raises(Overloaded):
            await answered(detector.judge(animation_bytes(red_frames([10, 20, 30, 40]), "GIF")))
        model.gate.open()
        await answered(holder)
        assert detector.counters.refused == 1

    async def test_shutdown_answers_a_waiting_clip(self, make_detector: DetectorFactory) -> None:
        """A clip still in the model when the drain time is up gets ShuttingDown; no task is left."""
        model = FakeClassifier(gate=Gate(opened=False))
        detector = await make_detector(model, drain_timeout_s=0)
        clip = asyncio.create_task(detector.judge(animation_bytes(red_frames([10, 20]), "GIF")))
        await model.gate.arrived()
        await detector.close()
        with pytest.raises(ShuttingDown):
            await answered(clip)
        model.gate.open()
        mine = asyncio.current_task()
        assert [t for t in asyncio.all_tasks() if t is not mine and not t.done()] == []

    async def test_budget_answers_on_the_frames_so_far(
        self, make_detector: DetectorFactory
    ) -> None:
        """Out of budget after its first frame, a clip is judged on it and says so."""
        detector = await make_detector(FakeClassifier(), video=VideoSettings(decode_budget_s=1e-9))
        judgement = await answered(
            detector.judge(animation_bytes(red_frames(self.REDS, distinct=True), "GIF"))
        )
        assert judgement.clip is not None
        assert judgement.clip.frames_decoded == len(judgement.clip.frames) == 1
        assert judgement.fake_probability == pytest.approx(20 / 255)

    async def test_refusals_are_counted_as_invalid(self, make_detector: DetectorFactory) -> None:
        """No picture and damaged clips are refused before the queue, counted as invalid."""
        model = FakeClassifier()
        detector = await make_detector(model)
        with pytest.raises(NoPicture):
            await detector.judge(audio_only("webm"))
        with pytest.raises(DamagedClip):
            await detector.judge(video_bytes(red_frames([1, 2]), LOSSLESS_MKV)[:60])
        assert detector.counters.invalid == 2
        assert model.batches == []


class TestUploadJson:
    async def test_a_photo_answers_as_before_plus_media(
        self, make_detector: DetectorFactory
    ) -> None:
        """A still image's object is the fields it always had and `"media": "image"`, no more."""
        detector = await make_detector(FakeClassifier())
        judgement = await answered(detector.judge(png_bytes(51)))
        body = judgement.as_dict()
        assert body["media"] == "image"
        assert not {"frames", "duration_s", "frames_decoded"} & set(body)
        assert set(body) == CHECK_JSON_FIELDS

    async def test_a_clip_adds_frames_duration_and_frames_decoded(
        self, make_detector: DetectorFactory
    ) -> None:
        """Frames in time order with index, time and probability; the clip's duration."""
        detector = await make_detector(FakeClassifier(), video=VideoSettings(frames=4))
        data = video_bytes(red_frames([i * 2 for i in range(100)], distinct=True), LOSSLESS_MKV)
        body = (await answered(detector.judge(data))).as_dict()
        assert body["media"] == "video"
        assert body["frames"] == [
            {"index": i, "time_s": i / 25, "fake_probability": round(2 * i / 255, 6)}
            for i in (0, 25, 50, 75)
        ]
        assert body["duration_s"] == 4.0
        assert body["frames_decoded"] == 4
        assert body["fake_probability"] == round(150 / 255, 6)
        assert {"verdict", "threshold", "classes", "sha256", "cached"} <= set(body)
