"""Sample a video (MP4/MOV, WebM/MKV) with PyAV: caps from the header, then seek and decode.

Order of work, cheapest refusal first:
1. open with the one demuxer `core.kinds` named; FFmpeg's stream probe may open only the
   allowed decoders (`codec_whitelist`), each with FFmpeg's own `max_pixels` guard set, so not
   even the probe allocates a frame over the pixel cap;
2. the first video stream that is not cover art, else "no picture in this file"; its codec
   must be one of the allowed (H.264, HEVC, VP8, VP9, AV1, MPEG-4 Part 2, H.263, MJPEG, FFV1):
   FFmpeg carries hundreds of decoders, and an upload chooses which one runs;
3. its frame size and its duration, from the header, against the caps;
4. one pass over the packets (no decoding) for every frame's timestamp and the keyframes,
   so that each sampled frame has its exact index and the duration is known when the header
   had none;
5. for each sampled time: seek to the keyframe before it, unless decoding on from where the
   last one stopped is shorter, and decode forward to the frame showing then.
"""

from __future__ import annotations

import io
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

import av
from av.codec.context import ThreadType
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from config import ImageLimits, VideoSettings
from core.errors import N_, ClipTooLarge, DamagedClip, ImageTooLarge, NoPicture, UnsupportedClip
from core.images import TOO_LONG_A_SIDE, TOO_MANY_PIXELS, check_dimensions
from core.result import Media
from core.sampling import Budget, DecodedClip, FrameSink, check_duration, sample_frames

log = logging.getLogger(__name__)

_SCAN_CHECK_EVERY: Final = 1024  # packets between two looks at the budget while indexing
# Video codecs decoded (FFmpeg's codec names), and every FFmpeg decoder of them.
_CODECS: Final = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "h263", "mjpeg", "ffv1"})
_DECODERS: Final = "h264,hevc,vp8,vp9,av1,libdav1d,mpeg4,h263,mjpeg,ffv1"
_ROTATIONS: Final = {
    90: Image.Transpose.ROTATE_90,
    -90: Image.Transpose.ROTATE_270,
    270: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    -180: Image.Transpose.ROTATE_180,
}


@dataclass(slots=True)
class _Index:
    """Every frame's presentation timestamp (sorted), the keyframes', and where the clip ends."""

    pts: list[int] = field(default_factory=list)
    keyframes: list[int] = field(default_factory=list)
    end: int = 0


def decode_video(
    data: bytes,
    demuxer: str,
    limits: ImageLimits,
    video: VideoSettings,
    sink: FrameSink,
    budget: Budget,
) -> DecodedClip:
    """The sampled frames of a video, or a refusal (too large, too long, no picture, damaged)."""
    guard = {"max_pixels": str(limits.max_pixels)}
    options = {**guard, "codec_whitelist": _DECODERS}
    try:
        container = av.open(io.BytesIO(data), mode="r", format=demuxer, options=options)
    except (av.FFmpegError, UnicodeDecodeError):
        raise DamagedClip(N_("the video is damaged or incomplete")) from None
    with container:
        stream = _picture_stream(container)
        _check_frame_size(stream, limits)
        declared = _declared_duration(container, stream)
        if declared is not None:
            check_duration(declared, video)
        stream.codec_context.options = guard
        stream.thread_type = ThreadType.AUTO
        index = _scan(container, stream, budget)
        if not index.pts:
            raise DamagedClip(N_("the video is damaged: it holds no frame"))
        time_base = stream.time_base or Fraction(1, 1)
        duration_s = float((index.end - index.pts[0]) * time_base)
        check_duration(duration_s, video)
        wanted = sample_frames(index.pts, index.end, video.frames)
        _sample(container, stream, index, wanted, limits, sink, budget)
    if not sink.frames:
        raise DamagedClip(N_("the video is damaged: not one frame could be decoded"))
    return DecodedClip(Media.VIDEO, duration_s, sink.frames, len(wanted))


def _picture_stream(container: InputContainer) -> VideoStream:
    """The first video stream that is not cover art, if FFmpeg may decode its codec here."""
    for stream in container.streams.video:
        if stream.disposition & Disposition.attached_pic:
            continue
        context = stream.codec_context
        if context is None or context.codec.canonical_name not in _CODECS:
            raise UnsupportedClip()
        return stream
    raise NoPicture()


# A frame over the image limits, said of the video's frame (whole sentences, for the catalogs).
_FRAME_REFUSALS = {
    TOO_LONG_A_SIDE: N_(
        "the video's frame is too large ({width}x{height}; limit {side} px a side)"
    ),
    TOO_MANY_PIXELS: N_(
        "the video's frame has too many pixels ({width}x{height}; limit {megapixels} MP)"
    ),
}


def _check_frame_size(stream: VideoStream, limits: ImageLimits) -> None:
    """From the header; FFmpeg leaves the size at 0 when it exceeds its `max_pixels` guard."""
    width, height = stream.codec_context.width, stream.codec_context.height
    if width < 1 or height < 1:
        raise ClipTooLarge(
            N_(
                "the video's frame size is unreadable or over the limit "
                "({megapixels} MP, {side} px a side)"
            ),
            megapixels=f"{limits.max_pixels / 1e6:g}",
            side=limits.max_side,
        )
    try:
        check_dimensions((width, height), limits)
    except ImageTooLarge as refusal:
        raise ClipTooLarge(_FRAME_REFUSALS[refusal.template], **refusal.values) from None


def _declared_duration(container: InputContainer, stream: VideoStream) -> float | None:
    """The video stream's duration, else the container's, in seconds; None if neither says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _scan(container: InputContainer, stream: VideoStream, budget: Budget) -> _Index:
    """Read the packets' timestamps without decoding; a damaged tail ends the index there.

    A hostile file of many tiny packets could make this long, so the budget bounds it too:
    the clip is then sampled over the part that was indexed.
    """
    index = _Index()
    try:
        for count, packet in enumerate(container.demux(stream), 1):
            if packet.pts is not None:
                index.pts.append(packet.pts)
                index.end = max(index.end, packet.pts + (packet.duration or 0))
                if packet.is_keyframe:
                    index.keyframes.append(packet.pts)
            if count % _SCAN_CHECK_EVERY == 0 and budget.spent:
                log.info("indexing a video ran out of budget after %d packets", count)
                break
    except av.FFmpegError:
        pass
    index.pts.sort()
    index.keyframes.sort()
    if index.pts:
        index.end = max(index.end, index.pts[-1])
    return index


def _sample(
    container: InputContainer,
    stream: VideoStream,
    index: _Index,
    wanted: list[int],
    limits: ImageLimits,
    sink: FrameSink,
    budget: Budget,
) -> None:
    """Decode the wanted frames in order; a target that fails to decode is skipped."""
    cursor = _Cursor(container, stream)
    first, time_base = index.pts[0], stream.time_base or Fraction(1, 1)
    for wanted_index in wanted:
        last = sink.last_index
        if last is not None and budget.spent:
            break
        try:
            target = index.pts[wanted_index]
            frame = cursor.frame_at(index, target, budget, started=last is not None)
        except av.FFmpegError:
            cursor.lost()
            continue
        if frame is None or frame.pts is None:
            continue
        found = _frame_index(index, frame.pts)
        if last is not None and found <= last:
            continue  # the wanted frame was missing and the next one was taken already
        time_s = float((index.pts[found] - first) * time_base)
        sink.add(found, time_s, _upright(_checked(frame, limits)))


class _Cursor:
    """Where decoding is: one frame iterator, replaced after every seek."""

    def __init__(self, container: InputContainer, stream: VideoStream) -> None:
        self._container = container
        self._stream = stream
        self._frames: Iterator[VideoFrame] | None = None
        self._position: int | None = None  # pts of the last frame decoded

    def lost(self) -> None:
        """Decoding failed: the next frame needs a seek."""
        self._frames = self._position = None

    def frame_at(
        self, index: _Index, target: int, budget: Budget, *, started: bool
    ) -> VideoFrame | None:
        """The first frame at or after `target`, or None at the end or the budget."""
        if self._frames is None or not self._on_the_way(index, target):
            self._container.seek(target, stream=self._stream, backward=True)
            self._frames = self._container.decode(self._stream)
        for frame in self._frames:
            if frame.pts is None:
                continue
            self._position = frame.pts
            if frame.pts >= target:
                return frame
            if started and budget.spent:
                return None
        self.lost()  # the end of the stream
        return None

    def _on_the_way(self, index: _Index, target: int) -> bool:
        """Decoding on reaches `target` without passing a keyframe a seek would land on."""
        if self._position is None or self._position >= target:
            return False
        key = bisect_right(index.keyframes, target) - 1
        return key < 0 or index.keyframes[key] <= self._position


def _frame_index(index: _Index, pts: int) -> int:
    found = bisect_left(index.pts, pts)
    if found == len(index.pts) or index.pts[found] != pts:
        found = max(found - 1, 0)  # a timestamp the index did not have: the frame before it
    return found


def _checked(frame: VideoFrame, limits: ImageLimits) -> VideoFrame:
    """A stream may change size midway; each frame is held to the caps before conversion."""
    try:
        check_dimensions((frame.width, frame.height), limits)
    except ImageTooLarge as refusal:
        raise ClipTooLarge(_FRAME_REFUSALS[refusal.template], **refusal.values) from None
    return frame


def _upright(frame: VideoFrame) -> Image.Image:
    """RGB as a player shows it: the display matrix's turn applied, as EXIF's is for photos."""
    image = Image.fromarray(frame.to_ndarray(format="rgb24"))
    turn = _ROTATIONS.get(frame.rotation)
    return image if turn is None else image.transpose(turn)
