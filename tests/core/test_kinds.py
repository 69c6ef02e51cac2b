"""The kind of an upload comes from its bytes: still image, animation, video, or refused."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from config import ImageLimits, MiB, VideoSettings
from core.errors import ClipTooLarge, ImageTooLarge
from core.kinds import HEAD_BYTES, Kind, check_upload_size, kind_of, video_demuxer
from core.result import Media
from tests.sample_clips import (
    H264_MP4,
    LOSSLESS_MKV,
    VP8_WEBM,
    Codec,
    animation_bytes,
    audio_only,
    red_frames,
    video_bytes,
)


def _still(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(out, fmt)
    return out.getvalue()


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\2\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\0" * 64


class TestKinds:
    @pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
    def test_still_images(self, fmt: str) -> None:
        """A photo is an image, read by the Pillow decoder its signature names."""
        assert kind_of(_still(fmt)) == Kind(Media.IMAGE, fmt)

    @pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
    def test_animations(self, fmt: str) -> None:
        """Two frames or more make a GIF, an APNG or a WebP an animation."""
        assert kind_of(animation_bytes(red_frames([10, 200]), fmt)) == Kind(Media.ANIMATION, fmt)

    @pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
    def test_one_frame_animation_is_an_image(self, fmt: str) -> None:
        """A file saved as an animation with a single frame is judged as a photo."""
        assert kind_of(animation_bytes(red_frames([10]), fmt)) == Kind(Media.IMAGE, fmt)

    @pytest.mark.parametrize(
        ("codec", "demuxer"),
        [(H264_MP4, "mov"), (VP8_WEBM, "matroska"), (LOSSLESS_MKV, "matroska")],
    )
    def test_videos(self, codec: Codec, demuxer: str) -> None:
        """MP4 by its ftyp box, WebM and MKV by their EBML DocType: each names its demuxer."""
        assert kind_of(video_bytes(red_frames([1, 2]), codec)) == Kind(Media.VIDEO, demuxer)

    @pytest.mark.parametrize("brand", [b"qt  ", b"M4V ", b"3gp5", b"mp42", b"iso6"])
    def test_video_brands(self, brand: bytes) -> None:
        """MOV, M4V, 3GP and the generic ISO brands are videos."""
        assert video_demuxer(_ftyp(brand)) == "mov"
        assert video_demuxer(_ftyp(b"abcd", brand)) == "mov"  # as a compatible brand too

    def test_sound_only_mp4_is_a_video_container(self) -> None:
        """An audio-only MP4 goes to the video decoder, which says there is no picture."""
        assert kind_of(audio_only()) == Kind(Media.VIDEO, "mov")

    @pytest.mark.parametrize(
        "data",
        [
            _ftyp(b"crx ", b"isoX"),  # Canon raw: ISO BMFF, not a video brand
            b"RIFF\x24\0\0\0AVI LIST" + b"\0" * 40,  # AVI
            b"\x47\x40\x11\x10" + b"\0" * 184,  # MPEG-TS packet
            b"FLV\x01\x05\0\0\0\x09" + b"\0" * 20,  # Flash video
            b"\0\0\0\x08wide\0\0\0\x10mdat" + b"\0" * 40,  # an old MOV without ftyp
            b"\x1a\x45\xdf\xa3\x9f\x42\x82\x84fake" + b"\0" * 40,  # EBML, another DocType
        ],
    )
    def test_other_containers_are_refused(self, data: bytes) -> None:
        """Every other container is no video: no demuxer is ever chosen by probing."""
        assert video_demuxer(data) is None
        assert kind_of(data) is None

    def test_an_avif_that_lists_a_video_brand_is_an_image(self) -> None:
        """Image brands come first: an AVIF file also listing `isom` is a still image."""
        assert kind_of(_ftyp(b"avif", b"mif1", b"isom")) == Kind(Media.IMAGE, "AVIF")


class TestByteCaps:
    LIMITS = ImageLimits(max_bytes=1 * MiB)
    VIDEO = VideoSettings(max_bytes=3 * MiB)

    def test_videos_have_their_own_cap(self) -> None:
        """A video between the image cap and its own is accepted; above its own, refused."""
        head = video_bytes(red_frames([1, 2]), H264_MP4)[:HEAD_BYTES]
        check_upload_size(2 * MiB, head, self.LIMITS, self.VIDEO)
        with pytest.raises(ClipTooLarge, match=r"the video is too large \(limit 3 MB\)"):
            check_upload_size(3 * MiB + 1, head, self.LIMITS, self.VIDEO)

    def test_images_and_animations_keep_the_image_cap(self) -> None:
        """A GIF, animated or not, may not use the larger video cap."""
        head = animation_bytes(red_frames([1, 2]), "GIF")[:HEAD_BYTES]
        with pytest.raises(ImageTooLarge, match="limit 1 MB") as refused:
            check_upload_size(2 * MiB, head, self.LIMITS, self.VIDEO)
        assert not isinstance(refused.value, ClipTooLarge)
