"""Sample an animation (GIF, animated WebP, APNG) with Pillow, stepping through its frames.

A frame of an animation is drawn over the ones before it (GIF disposal, APNG blending, WebP
frames are sub-rectangles), so the only faithful way to frame k is through every frame before
it: each step decodes one frame and checks the budget. FFmpeg is no help here: it skips the
`ANIM`/`ANMF` chunks of animated WebP. The canvas (the largest extent any frame reaches) and
the duration are checked from the timeline before a pixel is decoded.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from config import ImageLimits, VideoSettings
from core.errors import N_, DamagedClip, ImageTooLarge
from core.images import check_dimensions, to_rgb
from core.result import Media
from core.sampling import Budget, DecodedClip, FrameSink, check_duration, sample_frames
from core.timeline import Timeline, read_timeline

# Pillow's ways of saying "these bytes are not a whole, valid frame".
_BROKEN = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


def decode_animation(
    data: bytes,
    fmt: str,
    limits: ImageLimits,
    video: VideoSettings,
    sink: FrameSink,
    budget: Budget,
) -> DecodedClip:
    """The sampled frames of an animation, or a refusal (too large, too long, damaged)."""
    try:
        timeline = read_timeline(data, fmt)
    except (struct.error, IndexError):
        raise DamagedClip() from None
    check_dimensions(timeline.canvas, limits)
    check_duration(timeline.duration_s, video)
    wanted = sample_frames(timeline.starts_us, timeline.end_us, video.frames)
    try:
        _step(data, fmt, timeline, wanted, limits, sink, budget)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(N_("the animation has too many pixels")) from None
    if not sink.frames:
        raise DamagedClip()
    return DecodedClip(Media.ANIMATION, timeline.duration_s, sink.frames, len(wanted))


def _step(
    data: bytes,
    fmt: str,
    timeline: Timeline,
    wanted: list[int],
    limits: ImageLimits,
    sink: FrameSink,
    budget: Budget,
) -> None:
    """Decode frame after frame up to each wanted one; stop at the budget or a broken frame."""
    try:
        opened = Image.open(io.BytesIO(data), formats=[fmt])
    except _BROKEN:
        return
    with opened as image:
        check_dimensions(image.size, limits)
        for index in wanted:
            started = sink.last_index is not None
            if not _advance(image, index + timeline.first_index, budget, started=started):
                break
            time_s = (timeline.starts_us[index] - timeline.starts_us[0]) / 1e6
            sink.add(index, time_s, to_rgb(image))


def _advance(image: Image.Image, target: int, budget: Budget, *, started: bool) -> bool:
    """Step to frame `target`, decoding each frame on the way; False if it cannot be reached.

    A truncated or broken frame ends the clip, judged on the frames before it. The budget is
    checked before each step once a first frame was sampled.
    """
    try:
        while image.tell() < target:
            if started and budget.spent:
                return False
            image.seek(image.tell() + 1)
            image.load()
        image.load()
    except _BROKEN:
        return False
    return True
