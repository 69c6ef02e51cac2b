"""Clips the tests make on the spot with PyAV and Pillow: frames are known images.

Lossless encoders (`libx264rgb` at crf 0 in MP4, FFV1 in Matroska, GIF/APNG/lossless WebP for
animations) give back exactly the pixels they were given, so a test can compare a sampled
frame with the picture it came from. `libx264` and `libvpx` are the lossy codecs users send.
"""

from __future__ import annotations

import io
import struct
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from av.video.stream import VideoStream
from PIL import Image

Frame = npt.NDArray[np.uint8]  # (height, width, 3) RGB

Codec = tuple[str, str, str, dict[str, str]]  # encoder, container, pixel format, options

LOSSLESS_MP4: Codec = ("libx264rgb", "mp4", "rgb24", {"crf": "0", "preset": "ultrafast"})
LOSSLESS_MKV: Codec = ("ffv1", "matroska", "bgr0", {})
H264_MP4: Codec = ("libx264", "mp4", "yuv420p", {"preset": "ultrafast"})
VP8_WEBM: Codec = ("libvpx", "webm", "yuv420p", {})
VP9_WEBM: Codec = ("libvpx-vp9", "webm", "yuv420p", {"deadline": "realtime"})


def noise_frames(count: int, side: int = 32, seed: int = 0) -> list[Frame]:
    """Distinct random pictures: every frame scores differently with a real model."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(count)]


def red_frames(reds: Sequence[int], side: int = 16, *, distinct: bool = False) -> list[Frame]:
    """Flat frames whose red value scripts `tests.fakes.FakeClassifier` (red / 255).

    With `distinct`, each frame's green value is its number, so frames of the same red are
    still different pictures (not judged once as identical frames).
    """
    frames = []
    for number, red in enumerate(reds):
        frame = np.zeros((side, side, 3), dtype=np.uint8)
        frame[..., 0] = red
        if distinct:
            frame[..., 1] = number % 256
        frames.append(frame)
    return frames


def video_bytes(
    frames: Sequence[Frame],
    codec: Codec = LOSSLESS_MP4,
    *,
    rate: int = 25,
    pts: Sequence[int] | None = None,
    rotation: float | None = None,
    gop: int | None = None,
    faststart: bool = False,
) -> bytes:
    """Encode `frames` at `rate` frames per second (or at the given `pts`, in 1/rate s).

    `faststart` puts an MP4's index (`moov`) before its frame data, as streaming sites do.
    """
    if faststart:  # the muxer rewrites the file in a second pass: it needs a real file
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "clip.mp4"
            _encode(path, frames, codec, rate, pts, rotation, gop, {"movflags": "faststart"})
            return path.read_bytes()
    out = io.BytesIO()
    _encode(out, frames, codec, rate, pts, rotation, gop, None)
    return out.getvalue()


def _encode(
    out: io.BytesIO | Path,
    frames: Sequence[Frame],
    codec: Codec,
    rate: int,
    pts: Sequence[int] | None,
    rotation: float | None,
    gop: int | None,
    muxing: dict[str, str] | None,
) -> None:
    name, container, pix_fmt, options = codec
    height, width = frames[0].shape[:2]
    with av.open(out, mode="w", format=container, options=muxing) as muxer:
        stream = muxer.add_stream(name, rate=rate)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = dict(options)
        if gop is not None:
            stream.codec_context.gop_size = gop
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for number, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[number], Fraction(1, rate)
            muxer.mux(stream.encode(frame))
        muxer.mux(stream.encode())


def audio_only(container: str = "mp4") -> bytes:
    """A second of a 440 Hz tone and no picture at all."""
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as muxer:
        stream = muxer.add_stream("aac" if container == "mp4" else "libopus", rate=48_000)
        tone = np.sin(np.arange(48_000) * 2 * np.pi * 440 / 48_000).astype(np.float32)
        for start in range(0, 48_000, 960):
            frame = av.AudioFrame.from_ndarray(
                tone[None, start : start + 960], format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 48_000, start
            muxer.mux(stream.encode(frame))
        muxer.mux(stream.encode())
    return out.getvalue()


def animation_bytes(
    frames: Sequence[Frame], fmt: str, durations_ms: int | Sequence[int] = 100
) -> bytes:
    """An animated GIF, PNG (APNG) or lossless WebP of `frames`."""
    images = [Image.fromarray(frame) for frame in frames]
    options: dict[str, object] = {"lossless": True} if fmt == "WEBP" else {}
    if fmt == "GIF":
        options["optimize"] = False
    out = io.BytesIO()
    images[0].save(
        out,
        fmt,
        save_all=True,
        append_images=images[1:],
        duration=list(durations_ms) if not isinstance(durations_ms, int) else durations_ms,
        loop=0,
        **options,
    )
    return out.getvalue()


def vp9_declaring(width: int, height: int) -> bytes:
    """A WebM whose VP9 keyframe header (and Matroska track) declare `width` x `height`.

    The frame data stays that of a 272x272 picture: decoding it as the declared size fails,
    so a size refusal shows the header was checked first. The fields keep their length, so
    the file stays well formed.
    """
    data = bytearray(video_bytes(red_frames([10, 20], side=272), VP9_WEBM))
    sync = data.find(b"\x49\x83\x42")  # VP9 keyframe sync code
    bit = (sync + 3) * 8 + 4  # after profile 0's colour space and range bits
    value = ((width - 1) << 16) | (height - 1)
    for offset in range(32):
        byte, shift = divmod(bit + offset, 8)
        mask = 0x80 >> shift
        data[byte] = data[byte] | mask if value >> (31 - offset) & 1 else data[byte] & ~mask
    for element in (b"\xb0\x82", b"\xba\x82"):  # Matroska PixelWidth, PixelHeight: 2 bytes
        at = data.find(element + struct.pack(">H", 272))
        data[at + 2 : at + 4] = struct.pack(">H", width if element == b"\xb0\x82" else height)
    return bytes(data)
