"""Which frames of a clip are judged: evenly spaced in time, the first included, each once.

Clips are made here with PyAV and Pillow; lossless codecs give back the exact source frames,
so each sampled frame is compared with the picture it was made from.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from config import ImageLimits, VideoSettings
from core.animation import decode_animation
from core.kinds import kind_of
from core.preprocess import PixelArray
from core.sampling import Budget, DecodedClip, FrameSink, clock_text, sample_frames
from core.timeline import read_timeline
from core.video import decode_video
from tests.sample_clips import (
    H264_MP4,
    LOSSLESS_MKV,
    LOSSLESS_MP4,
    VP8_WEBM,
    VP9_WEBM,
    Codec,
    Frame,
    animation_bytes,
    noise_frames,
    red_frames,
    video_bytes,
)

# 100 frames at 25 fps (4 s), 8 samples: one every 0.5 s, each the frame showing then.
INDICES_OF_100 = [0, 12, 25, 37, 50, 62, 75, 87]


def keep(image: Image.Image) -> PixelArray:
    """A `prepare` that keeps the whole frame, channels first, as the model's input is laid out."""
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1)


def sampled(data: bytes, frames: int = 8, limits: ImageLimits | None = None) -> DecodedClip:
    kind = kind_of(data)
    assert kind is not None
    video = VideoSettings(frames=frames)
    budget = Budget(60.0)
    decode = decode_video if kind.media.value == "video" else decode_animation
    return decode(data, kind.decoder, limits or ImageLimits(), video, FrameSink(keep), budget)


def as_source(pixels: PixelArray) -> Frame:
    return pixels.transpose(1, 2, 0).astype(np.uint8)


class TestPlan:
    def test_evenly_spaced_from_the_first_frame(self) -> None:
        """100 frames of equal length, 8 samples: the frames showing at 0, 1/8, ... 7/8."""
        starts = [512 * i for i in range(100)]
        assert sample_frames(starts, 512 * 100, 8) == INDICES_OF_100

    def test_fewer_frames_than_samples(self) -> None:
        """Each frame is picked once, in order, when there are fewer frames than samples."""
        assert sample_frames([0, 10, 20], 30, 8) == [0, 1, 2]
        assert sample_frames([0], 40, 8) == [0]

    def test_time_not_frame_count(self) -> None:
        """A long first frame takes the samples that fall in its time, not one eighth of them."""
        starts = [0, 3000, 3100, 3200, 3300]  # frame 0 shows for 3 s of 4
        assert sample_frames(starts, 4000, 4) == [0, 1]  # times 0, 1, 2 and 3 s

    def test_clock_text(self) -> None:
        """Times read as a player shows them."""
        assert [clock_text(s) for s in (0, 3.9, 61, 3725)] == ["0:00", "0:03", "1:01", "1:02:05"]


class TestVideos:
    @pytest.mark.parametrize("codec", [LOSSLESS_MP4, LOSSLESS_MKV])
    def test_100_frames_indices_times_and_pixels(self, codec: Codec) -> None:
        """Each sampled frame has its own index and time, and is exactly that source frame."""
        frames = noise_frames(100, side=16)
        clip = sampled(video_bytes(frames, codec))
        assert [frame.index for frame in clip.frames] == INDICES_OF_100
        assert [frame.time_s for frame in clip.frames] == pytest.approx(
            [index / 25 for index in INDICES_OF_100]
        )
        assert clip.duration_s == pytest.approx(4.0)
        for frame in clip.frames:
            assert np.array_equal(as_source(frame.pixels), frames[frame.index])

    @pytest.mark.parametrize("codec", [H264_MP4, VP8_WEBM, VP9_WEBM])
    def test_lossy_codecs_sample_the_same_frames(self, codec: Codec) -> None:
        """H.264, VP8 and VP9 (with B-frames and long GOPs) give the same frames, near enough."""
        reds = [2 * i for i in range(100)]
        clip = sampled(video_bytes(red_frames(reds), codec))
        assert [frame.index for frame in clip.frames] == INDICES_OF_100
        for frame in clip.frames:
            assert abs(float(frame.pixels[0, 8, 8]) - reds[frame.index]) <= 4

    def test_seeking_between_keyframes(self) -> None:
        """With a keyframe every 10 frames, decoding seeks and still lands on each target."""
        frames = noise_frames(100, side=16, seed=3)
        clip = sampled(video_bytes(frames, LOSSLESS_MP4, gop=10), frames=5)
        assert [frame.index for frame in clip.frames] == [0, 20, 40, 60, 80]
        for frame in clip.frames:
            assert np.array_equal(as_source(frame.pixels), frames[frame.index])

    def test_variable_frame_rate(self) -> None:
        """Times come from each frame's timestamp, not from a frame rate."""
        pts = [0, 1, 2, 50, 51, 100]  # in 1/25 s: a 2 s gap, then another
        clip = sampled(video_bytes(noise_frames(6, side=16), LOSSLESS_MKV, pts=pts), frames=4)
        assert [frame.index for frame in clip.frames] == [0, 2, 3, 4]
        assert [frame.time_s for frame in clip.frames] == pytest.approx([0.0, 0.08, 2.0, 2.04])

    def test_display_rotation_is_applied(self) -> None:
        """A phone's portrait clip (stored turned, with a display matrix) is judged upright."""
        stored = np.zeros((16, 32, 3), dtype=np.uint8)
        stored[:, :16, 0] = 255  # left red, right blue as stored
        stored[:, 16:, 2] = 255
        clip = sampled(video_bytes([stored, stored], LOSSLESS_MP4, rotation=90), frames=1)
        upright = as_source(clip.frames[0].pixels)
        assert upright.shape == (32, 16, 3)  # turned a quarter counter-clockwise
        assert tuple(upright[2, 8]) == (0, 0, 255)  # the stored right is now the top
        assert tuple(upright[29, 8]) == (255, 0, 0)


class TestAnimations:
    @pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
    def test_100_frames_indices_times_and_pixels(self, fmt: str) -> None:
        """GIF, APNG and WebP frames of 40 ms: the same frames and times as the video."""
        frames = red_frames([2 * i for i in range(100)], distinct=True)
        clip = sampled(animation_bytes(frames, fmt, 40))
        assert [frame.index for frame in clip.frames] == INDICES_OF_100
        assert [frame.time_s for frame in clip.frames] == pytest.approx(
            [index / 25 for index in INDICES_OF_100]
        )
        assert clip.duration_s == pytest.approx(4.0)
        for frame in clip.frames:
            assert np.array_equal(as_source(frame.pixels), frames[frame.index])

    def test_delays_decide_the_times(self) -> None:
        """A GIF whose first frame shows for 3 s gives that frame the first samples' times."""
        frames = red_frames([10, 20, 30, 40], distinct=True)
        clip = sampled(animation_bytes(frames, "GIF", [3000, 500, 250, 250]), frames=4)
        assert [(f.index, f.time_s) for f in clip.frames] == [(0, 0.0), (1, 3.0)]

    def test_instant_frames_play_as_browsers_play_them(self) -> None:
        """A GIF delay of 0 counts as 100 ms, as browsers show it."""
        gif = animation_bytes(red_frames([1, 2, 3], distinct=True), "GIF", 0)
        assert read_timeline(gif, "GIF").starts_us == (0, 100_000, 200_000)

    def test_apng_default_image_is_not_a_frame(self) -> None:
        """An APNG whose default image is outside its animation is sampled from the animation."""
        frames = red_frames([250, 10, 20, 30], distinct=True)
        images = [Image.fromarray(frame) for frame in frames]
        out = io.BytesIO()
        images[0].save(
            out, "PNG", save_all=True, append_images=images[1:], default_image=True, duration=100
        )
        timeline = read_timeline(out.getvalue(), "PNG")
        assert (timeline.frame_count, timeline.first_index) == (3, 1)
        clip = sampled(out.getvalue(), frames=3)
        assert [int(frame.pixels[0, 0, 0]) for frame in clip.frames] == [10, 20, 30]
        assert [frame.index for frame in clip.frames] == [0, 1, 2]

    def test_transparent_frames_on_white(self) -> None:
        """Transparent pixels of an APNG frame are composited on white, as for a still image."""
        first = Image.new("RGBA", (8, 8), (255, 0, 0, 255))
        second = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
        second.putpixel((0, 0), (0, 0, 255, 255))
        out = io.BytesIO()
        first.save(out, "PNG", save_all=True, append_images=[second], disposal=1, blend=0)
        clip = sampled(out.getvalue(), frames=2)
        assert tuple(as_source(clip.frames[1].pixels)[4, 4]) == (255, 255, 255)
        assert tuple(as_source(clip.frames[1].pixels)[0, 0]) == (0, 0, 255)
