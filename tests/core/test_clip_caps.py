"""A clip's caps and refusals: duration, frame size, no picture, damaged, a single frame.

Each refusal is a typed `DeepGuardError` with a user-safe message; the header caps are
checked before a frame is decoded (a `prepare` that counts calls proves it).
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image

from config import ImageLimits, VideoSettings
from core.animation import decode_animation
from core.errors import (
    ClipTooLarge,
    ClipTooLong,
    CorruptImage,
    DamagedClip,
    DeepGuardError,
    ImageTooLarge,
    NoPicture,
    UnsupportedClip,
    UnsupportedImage,
)
from core.kinds import kind_of
from core.preprocess import PixelArray
from core.result import Media
from core.sampling import Budget, DecodedClip, FrameSink
from core.video import decode_video
from tests.sample_clips import (
    H264_MP4,
    LOSSLESS_MKV,
    LOSSLESS_MP4,
    Codec,
    animation_bytes,
    audio_only,
    noise_frames,
    red_frames,
    video_bytes,
    vp9_declaring,
)


class Counting:
    """A `prepare` that keeps the top-left pixel and counts the frames it was handed."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: Image.Image) -> PixelArray:
        self.calls += 1
        return np.asarray(image, dtype=np.float32)[:1, :1].transpose(2, 0, 1)


def decode(
    data: bytes,
    prepare: Counting | None = None,
    *,
    limits: ImageLimits | None = None,
    video: VideoSettings | None = None,
) -> DecodedClip:
    kind = kind_of(data)
    assert kind is not None
    assert kind.media is not Media.IMAGE
    decoder = decode_video if kind.media is Media.VIDEO else decode_animation
    caps = video or VideoSettings()
    return decoder(
        data,
        kind.decoder,
        limits or ImageLimits(),
        caps,
        FrameSink(prepare or Counting()),
        Budget(60),
    )


def refused(data: bytes, error: type[DeepGuardError], **caps: object) -> DeepGuardError:
    """Decode `data`, expecting `error`, and show that no frame reached the model input."""
    prepare = Counting()
    with pytest.raises(error) as caught:
        decode(data, prepare, **caps)  # type: ignore[arg-type]
    assert prepare.calls == 0
    assert caught.value.subject in {"file", "image"}
    return caught.value


class TestDuration:
    def test_video_header_declaring_two_hours(self) -> None:
        """A video whose header says 2 hours is refused before any frame is decoded."""
        data = video_bytes(red_frames([10, 20]), LOSSLESS_MKV, rate=1, pts=[0, 7199])
        error = refused(data, ClipTooLong)
        assert error.message == "the clip is too long (2:00:00; limit 10:00)"

    @pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
    def test_animation_declaring_two_hours(self, fmt: str) -> None:
        """An animation's frame delays add up to its duration, read without decoding."""
        frames = red_frames(range(12), distinct=True)
        data = animation_bytes(frames, fmt, 600_000)  # twelve frames of ten minutes
        assert "limit 10:00" in refused(data, ClipTooLong).message

    def test_the_cap_is_a_setting(self) -> None:
        """A 4 s clip passes the default cap and is refused under a 3 s one."""
        data = video_bytes(red_frames(range(100)), H264_MP4)
        assert decode(data).duration_s == pytest.approx(4.0)
        refused(data, ClipTooLong, video=VideoSettings(max_duration_s=3))


class TestFrameSize:
    def test_video_frame_declared_20000_by_20000(self) -> None:
        """FFmpeg's own pixel guard leaves such a size unread: refused as too large, undecoded."""
        error = refused(vp9_declaring(20_000, 20_000), ClipTooLarge)
        assert "frame size is unreadable or over the limit" in error.message

    def test_video_frame_over_the_side_cap(self) -> None:
        """A size FFmpeg reads is held to the image caps, from the header."""
        limits = ImageLimits(max_side=4096)
        error = refused(vp9_declaring(5000, 5000), ClipTooLarge, limits=limits)
        assert error.message == "the video's frame is too large (5000x5000; limit 4096 px a side)"

    def test_video_frame_over_the_pixel_cap(self) -> None:
        """Within FFmpeg's guard too: the pixel cap is DeepGuard's, not a number in FFmpeg."""
        limits = ImageLimits(max_pixels=1_000_000)
        error = refused(
            video_bytes(noise_frames(2, side=1024), H264_MP4), ClipTooLarge, limits=limits
        )
        assert "too many pixels (1024x1024; limit 1 MP)" in error.message

    def test_animation_canvas_declared_20000_by_20000(self) -> None:
        """A GIF's logical screen is the canvas every frame is drawn on: refused from its header."""
        data = bytearray(animation_bytes(red_frames([1, 2], side=8, distinct=True), "GIF"))
        data[6:10] = struct.pack("<HH", 20_000, 20_000)
        error = refused(bytes(data), ImageTooLarge)
        assert "20000x20000" in error.message

    def test_animation_frame_beyond_its_canvas(self) -> None:
        """A GIF frame placed far outside the screen would grow the canvas: refused too."""
        data = bytearray(animation_bytes(red_frames([1, 2], side=8, distinct=True), "GIF"))
        second = data.index(b"\x2c", data.index(b"\x2c") + 1)  # the second image descriptor
        data[second + 1 : second + 5] = struct.pack("<HH", 19_990, 19_990)  # its left, top
        assert "19998x19998" in refused(bytes(data), ImageTooLarge).message


class TestNoPicture:
    @pytest.mark.parametrize("container", ["mp4", "webm"])
    def test_audio_only(self, container: str) -> None:
        """A sound file in a video container: "no picture in this file"."""
        error = refused(audio_only(container), NoPicture)
        assert error.message == "there is no picture in this file"
        assert error.subject == "file"


class TestCodecs:
    def test_a_codec_outside_the_list_is_refused(self) -> None:
        """QuickTime's PNG codec is a video FFmpeg can decode, but not one DeepGuard allows."""
        png_in_mov: Codec = ("png", "mov", "rgb24", {})
        error = refused(video_bytes(red_frames([1, 2]), png_in_mov), UnsupportedClip)
        assert error.message.startswith("that video's codec is not supported")
        assert isinstance(error, UnsupportedImage)

    @pytest.mark.parametrize(
        "codec", [("mpeg4", "mp4", "yuv420p", {}), ("mjpeg", "matroska", "yuvj420p", {})]
    )
    def test_older_camera_codecs_are_decoded(self, codec: Codec) -> None:
        """MPEG-4 Part 2 and Motion JPEG, as older cameras and phones record, are allowed."""
        clip = decode(video_bytes(red_frames([40, 80, 120], distinct=True), codec))
        assert [frame.index for frame in clip.frames] == [0, 1, 2]


class TestDamaged:
    def test_truncated_mp4_without_its_index(self) -> None:
        """An MP4 cut before its index (written last by most encoders) is refused as damaged."""
        data = video_bytes(noise_frames(50, side=16), H264_MP4)
        assert data.find(b"moov") > len(data) // 2
        error = refused(data[: len(data) // 2], DamagedClip)
        assert isinstance(error, CorruptImage)
        assert "damaged" in error.message

    def test_truncated_mp4_is_sampled_over_what_arrived(self) -> None:
        """With its index first, a cut MP4 is sampled over the frames that were delivered."""
        frames = noise_frames(100, side=16)
        data = video_bytes(frames, LOSSLESS_MP4, faststart=True)
        clip = decode(data[: len(data) * 6 // 10])
        assert clip.duration_s < 3.0  # of 4 s: the packets past the cut are not there
        assert len(clip.frames) == 8
        assert clip.frames[-1].index < 75
        for frame in clip.frames:
            assert tuple(frame.pixels[:, 0, 0]) == tuple(frames[frame.index][0, 0])

    def test_no_decodable_frame(self) -> None:
        """An index whose frame data is all zeros: not one frame decodes, so "damaged"."""
        data = bytearray(video_bytes(noise_frames(10, side=16), H264_MP4, faststart=True))
        start = data.index(b"mdat") + 4
        data[start:] = bytes(len(data) - start)
        assert "not one frame could be decoded" in refused(bytes(data), DamagedClip).message

    def test_garbage_after_a_webm_header(self) -> None:
        """An EBML header naming webm, then nothing FFmpeg can read."""
        head = video_bytes(red_frames([1, 2]), LOSSLESS_MKV)[:40]
        refused(head + bytes(range(256)) * 4, DamagedClip)


class TestOneFrame:
    @pytest.mark.parametrize("codec", [H264_MP4, LOSSLESS_MKV])
    def test_a_one_frame_video(self, codec: Codec) -> None:
        """A video of one frame is judged on that frame, at 0:00."""
        prepare = Counting()
        clip = decode(video_bytes(red_frames([120]), codec), prepare)
        assert [(frame.index, frame.time_s) for frame in clip.frames] == [(0, 0.0)]
        assert clip.duration_s == pytest.approx(0.04)
        assert prepare.calls == 1
