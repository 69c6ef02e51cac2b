"""`Detector.explain` on a clip: its most suspicious sampled frame, decoded again and explained.

`FakeExplainer` scores (and maps) a picture by its top-left red value, so a clip of flat frames
of known reds has a known most suspicious frame, and that frame's explanation is known too.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import numpy as np
import pytest
from PIL import Image

from config import ImageLimits, VideoSettings
from core.decoding import clip_frame
from core.errors import ClipTooLarge, DamagedClip
from core.explain import FrameShown
from core.result import Media
from tests.core.detectors import DetectorFactory
from tests.fakes import FakeExplainer, no_unhandled_loop_errors, png_bytes
from tests.sample_clips import (
    H264_MP4,
    LOSSLESS_MKV,
    Frame,
    animation_bytes,
    red_frames,
    video_bytes,
)

LEGEND = "Where the model saw AI-like (warm) and real-like (cool) evidence."
# Eight frames at 4 per second; the most suspicious (red 230) is frame 5, at 1.25 s.
REDS = [20, 60, 90, 40, 120, 230, 70, 10]
WORST, WORST_TIME = 5, 1.25


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    async with no_unhandled_loop_errors():
        yield


def _video() -> bytes:
    return video_bytes(red_frames(REDS, distinct=True), LOSSLESS_MKV, rate=4)


class TestAVideo:
    async def test_explains_the_frame_the_judgement_names(
        self, make_detector: DetectorFactory
    ) -> None:
        """The frame explained is the judgement's most suspicious one: same index and time."""
        detector = await make_detector(FakeExplainer(), video=VideoSettings(frames=8))
        data = _video()
        judged = await detector.judge(data)
        explained = await detector.explain(data)
        assert judged.clip is not None
        worst = judged.clip.most_suspicious
        assert (worst.index, worst.time_s) == (WORST, WORST_TIME)
        assert explained.media is Media.VIDEO
        assert explained.frame == FrameShown(WORST, WORST_TIME)
        assert explained.sha256 == judged.sha256

    async def test_its_scores_are_that_frames_own(self, make_detector: DetectorFactory) -> None:
        """Explaining the clip gives what explaining the frame's picture directly gives."""
        detector = await make_detector(FakeExplainer(), video=VideoSettings(frames=8))
        explained = await detector.explain(_video())
        frame = red_frames(REDS, distinct=True)[WORST]
        direct = await detector.explain(_png(frame))
        assert explained.scores == direct.scores
        assert explained.fake_probability == pytest.approx(230 / 255)
        np.testing.assert_array_equal(explained.patches.grid, direct.patches.grid)
        assert direct.frame is None
        assert direct.media is Media.IMAGE

    async def test_the_frame_decoded_is_the_frames_picture(self) -> None:
        """The lossless clip's frame comes back pixel for pixel, with its index and time."""
        frames = red_frames(REDS, distinct=True)
        frame = clip_frame(_video(), WORST, ImageLimits(), VideoSettings(frames=8))
        assert (frame.index, frame.time_s) == (WORST, WORST_TIME)
        np.testing.assert_array_equal(np.asarray(frame.image), frames[WORST])

    async def test_a_press_after_the_reply_is_judged_from_the_cache(
        self, make_detector: DetectorFactory
    ) -> None:
        """After the clip was judged, explaining it sends only the one frame to the model."""
        model = FakeExplainer()
        detector = await make_detector(model, video=VideoSettings(frames=8))
        data = _video()
        await detector.judge(data)
        seen = model.images_seen
        await detector.explain(data)
        assert model.images_seen == seen
        assert len(model.explain_threads) == 1

    async def test_json_names_the_media_and_the_frame(
        self, make_detector: DetectorFactory
    ) -> None:
        """as_dict keeps the still image's fields, then adds "media" and "frame"."""
        detector = await make_detector(FakeExplainer(), video=VideoSettings(frames=8))
        shape = (await detector.explain(_video())).as_dict()
        assert list(shape) == [
            "fake_probability",
            "rows",
            "cols",
            "grid",
            "bias",
            "media",
            "frame",
        ]
        assert shape["media"] == "video"
        assert shape["frame"] == {"index": WORST, "time_s": WORST_TIME}

    async def test_with_a_legend_the_picture_is_of_the_frame(
        self, make_detector: DetectorFactory
    ) -> None:
        """The PNG is painted over the frame: its size follows the frame's square shape."""
        detector = await make_detector(FakeExplainer(), video=VideoSettings(frames=8))
        explained = await detector.explain(_video(), legend=LEGEND)
        assert explained.png is not None
        with Image.open(io.BytesIO(explained.png)) as picture:
            assert picture.format == "PNG"
            assert picture.height > picture.width  # the square frame, the legend under it


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
async def test_an_animation_explains_its_most_suspicious_frame(
    make_detector: DetectorFactory, fmt: str
) -> None:
    """An animation is stepped to its most suspicious frame (not explained from its first)."""
    detector = await make_detector(FakeExplainer(), video=VideoSettings(frames=8))
    data = animation_bytes(red_frames(REDS, distinct=True), fmt, durations_ms=250)
    judged = await detector.judge(data)
    explained = await detector.explain(data)
    assert explained.media is Media.ANIMATION
    assert explained.frame == FrameShown(WORST, WORST_TIME)
    assert explained.fake_probability == pytest.approx(230 / 255)
    assert judged.clip is not None
    assert judged.clip.most_suspicious.index == WORST


class TestRefusals:
    async def test_a_damaged_video_is_a_damaged_clip(self, make_detector: DetectorFactory) -> None:
        """A video cut short before its first frame is refused as judging refuses it."""
        detector = await make_detector(FakeExplainer())
        with pytest.raises(DamagedClip):
            await detector.explain(_video()[:300])

    async def test_a_video_without_one_decodable_frame_is_a_damaged_clip(
        self, make_detector: DetectorFactory
    ) -> None:
        """A video whose frame data is all zeros: nothing to explain, a DamagedClip."""
        data = bytearray(video_bytes(red_frames(REDS), H264_MP4, faststart=True))
        start = data.index(b"mdat") + 4
        data[start:] = bytes(len(data) - start)
        detector = await make_detector(FakeExplainer())
        with pytest.raises(DamagedClip):
            await detector.explain(bytes(data))

    async def test_an_animation_whose_first_frame_is_broken_is_a_damaged_clip(
        self, make_detector: DetectorFactory
    ) -> None:
        """An APNG whose first frame's data is garbage: no frame to show, a DamagedClip."""
        data = bytearray(animation_bytes(red_frames([10, 200, 30]), "PNG"))
        at = data.find(b"IDAT")
        length = int.from_bytes(data[at - 4 : at], "big")
        data[at + 4 : at + 4 + length] = b"\xff" * length
        detector = await make_detector(FakeExplainer())
        with pytest.raises(DamagedClip):
            await detector.explain(bytes(data))

    async def test_a_video_over_its_cap_is_refused_before_reading(
        self, make_detector: DetectorFactory
    ) -> None:
        """The video's own byte cap applies, as for judging (not the image one)."""
        data = _video()
        detector = await make_detector(FakeExplainer(), video=VideoSettings(max_bytes=100))
        with pytest.raises(ClipTooLarge):
            await detector.explain(data)

    async def test_a_frame_past_the_end_is_damaged(self) -> None:
        """Asking a clip for a frame it has not got is a damaged clip, not a crash."""
        with pytest.raises(DamagedClip):
            clip_frame(_video(), len(REDS) + 3, ImageLimits(), VideoSettings())

    async def test_a_still_image_has_no_frames(self) -> None:
        """Only clips have frames to decode."""
        with pytest.raises(DamagedClip):
            clip_frame(png_bytes(10), 0, ImageLimits(), VideoSettings())


def _png(frame: Frame) -> bytes:
    out = io.BytesIO()
    Image.fromarray(frame).save(out, "PNG")
    return out.getvalue()
