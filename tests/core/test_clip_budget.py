"""The decode budget: a slow clip is judged on the frames decoded so far, and says how many.

Time is a fake clock here (each read advances it), so what the budget allows is exact; how
fast a real clip decodes is measured in bench/, never asserted.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from config import ImageLimits, VideoSettings
from core.animation import decode_animation
from core.preprocess import PixelArray
from core.sampling import Budget, FrameSink
from core.video import decode_video
from tests.sample_clips import LOSSLESS_MP4, animation_bytes, red_frames, video_bytes


class TickingClock:
    """Each read is `step` seconds after the one before: a budget check costs `step`."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def top_left(image: Image.Image) -> PixelArray:
    return np.asarray(image, dtype=np.float32)[:1, :1].transpose(2, 0, 1)


class TestAnimationBudget:
    # 300 frames, 8 samples: frames 0, 37, 75, 112, 150, 187, 225, 262.
    GIF = animation_bytes(red_frames([i % 250 for i in range(300)], side=8, distinct=True), "GIF")

    def test_stepping_stops_at_the_budget(self) -> None:
        """Each step through a GIF is one budget check: 4 s of 1/32 s steps reach frame 128."""
        clock = TickingClock(1 / 32)
        clip = decode_animation(
            self.GIF,
            "GIF",
            ImageLimits(),
            VideoSettings(),
            FrameSink(top_left),
            Budget(4.0, clock),
        )
        assert [frame.index for frame in clip.frames] == [0, 37, 75, 112]
        assert clip.planned == 8
        assert clock.reads < 150  # never stepped on towards frame 150

    def test_the_first_frame_is_always_judged(self) -> None:
        """With no budget at all, a clip is still answered, on its first frame."""
        clip = decode_animation(
            self.GIF, "GIF", ImageLimits(), VideoSettings(), FrameSink(top_left), Budget(0.0)
        )
        assert [frame.index for frame in clip.frames] == [0]

    def test_enough_budget_takes_every_sample(self) -> None:
        """The same clip with time to spare gives all eight frames."""
        clock = TickingClock(1 / 32)
        clip = decode_animation(
            self.GIF,
            "GIF",
            ImageLimits(),
            VideoSettings(),
            FrameSink(top_left),
            Budget(60.0, clock),
        )
        assert len(clip.frames) == clip.planned == 8


class TestVideoBudget:
    # One keyframe: every sample after the first is reached by decoding forward, frame by frame.
    VIDEO = video_bytes(red_frames(range(100), side=8, distinct=True), LOSSLESS_MP4, gop=250)

    def test_decoding_forward_stops_at_the_budget(self) -> None:
        """The budget is checked as frames decode, so a long run of them is cut short."""
        clock = TickingClock(1.0)
        clip = decode_video(
            self.VIDEO,
            "mov",
            ImageLimits(),
            VideoSettings(),
            FrameSink(top_left),
            Budget(30.0, clock),
        )
        indices = [frame.index for frame in clip.frames]
        assert 1 < len(indices) < 8
        assert indices == [0, 12, 25, 37, 50, 62, 75, 87][: len(indices)]

    def test_the_first_frame_is_always_judged(self) -> None:
        """Even an exhausted budget answers on the first frame."""
        clip = decode_video(
            self.VIDEO, "mov", ImageLimits(), VideoSettings(), FrameSink(top_left), Budget(0.0)
        )
        assert [frame.index for frame in clip.frames] == [0]
