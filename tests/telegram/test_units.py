"""The Telegram adapter's pieces without a network: choosing files, albums, in-flight tasks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram import Message

from bots.telegram.media import Albums, Media, media_of
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram import FakeTelegram

LIMIT = 20 * 1024 * 1024
fake = FakeTelegram()  # only its message builders; the server is never started


def parsed(payload: dict[str, Any]) -> Message:
    message = Message.de_json(payload, None)
    assert message is not None
    return message


class TestMediaOf:
    def test_photo_takes_the_largest_size_under_the_limit(self) -> None:
        """Of a photo's sizes, the largest that Telegram will still hand over is chosen."""
        payload = fake.photo(image_bytes(1), size=LIMIT + 1)
        thumbnail = payload["photo"][0]
        assert media_of(parsed(payload), LIMIT) == Media(
            thumbnail["file_id"], thumbnail["file_unique_id"], thumbnail["file_size"]
        )
        full = fake.photo(image_bytes(2))["photo"][1]
        assert media_of(parsed(fake.message(photo=[thumbnail, full])), LIMIT) == Media(
            full["file_id"], full["file_unique_id"], full["file_size"]
        )

    def test_photo_with_no_size_under_the_limit_is_kept_for_a_refusal(self) -> None:
        """When every size is too large the smallest is kept, so the reply can name the limit."""
        media = media_of(parsed(fake.photo(image_bytes(3))), 10)
        assert media is not None
        assert media.size is not None
        assert media.size > 10

    @pytest.mark.parametrize(
        ("name", "mime", "claimed"),
        [
            ("cat.png", "image/png", True),
            ("cat.JPG", None, True),
            ("scan", "image/webp", True),
            ("export.jpeg", "application/octet-stream", True),
            ("clip.mp4", "video/mp4", True),
            ("clip", "video/webm", True),
            ("holiday.MOV", None, True),
            ("blob", "application/octet-stream", False),
            ("blob", None, False),
        ],
    )
    def test_documents_that_may_be_images_are_checked(
        self, name: str, mime: str | None, claimed: bool
    ) -> None:
        """A file labelled as an image or a video is claimed; an unlabelled one is fetched to be
        sniffed."""
        media = media_of(parsed(fake.document(b"...", name, mime)), LIMIT)
        assert media is not None
        assert media.claimed is claimed

    @pytest.mark.parametrize(
        ("name", "mime", "size"),
        [
            ("notes.txt", "text/plain", None),
            ("report.pdf", "application/pdf", None),
            ("song.mp3", "audio/mpeg", None),
            ("blob", "application/octet-stream", LIMIT + 1),
        ],
    )
    def test_documents_that_are_not_images_are_ignored(
        self, name: str, mime: str, size: int | None
    ) -> None:
        """Files labelled as something else, or too large to sniff, are not fetched at all."""
        assert media_of(parsed(fake.document(b"...", name, mime, size=size)), LIMIT) is None

    def test_still_and_video_stickers_are_checked_lottie_ones_are_not(self) -> None:
        """A WebP sticker is an image and a WebM one a video; an animated (Lottie) one is
        drawing instructions, not a picture."""
        assert media_of(parsed(fake.sticker(image_bytes(4, "WEBP"))), LIMIT) is not None
        assert media_of(parsed(fake.sticker(b"webm", video=True)), LIMIT) is not None
        assert media_of(parsed(fake.sticker(b"lottie", animated=True)), LIMIT) is None

    @pytest.mark.parametrize("kind", ["video", "animation", "video_note"])
    def test_a_clip_is_its_own_file_never_its_thumbnail(self, kind: str) -> None:
        """A video, a GIF (an MP4 animation, also carried as the message's document) and a video
        note are taken by their own file; over the download limit, kept for the refusal."""
        build = {"video": fake.video, "animation": fake.animation, "video_note": fake.video_note}
        payload = build[kind](b"clip bytes")
        clip = payload[kind]
        assert media_of(parsed(payload), LIMIT) == Media(
            clip["file_id"], clip["file_unique_id"], clip["file_size"]
        )
        big = fake.video(b"clip bytes", size=LIMIT + 1)
        assert media_of(parsed(big), LIMIT) == Media(
            big["video"]["file_id"], big["video"]["file_unique_id"], LIMIT + 1
        )

    def test_text_has_nothing_to_check(self) -> None:
        """A plain text message yields no media."""
        assert media_of(parsed(fake.message(text="hello")), LIMIT) is None


class TestAlbums:
    async def test_first_caller_gets_the_whole_album_others_get_none(self) -> None:
        """Items arriving within the quiet period are returned together to the first caller."""
        albums: Albums[int] = Albums(quiet_s=0.05)
        results = await asyncio.gather(*(albums.gather("a", n) for n in range(3)))
        assert results == [[0, 1, 2], None, None]

    async def test_albums_are_kept_apart_and_closed_after_the_quiet_period(self) -> None:
        """Different keys gather separately, and a late item opens a new album."""
        albums: Albums[str] = Albums(quiet_s=0.01)
        first = await asyncio.gather(albums.gather("a", "a1"), albums.gather("b", "b1"))
        assert list(first) == [["a1"], ["b1"]]
        assert await albums.gather("a", "a2") == ["a2"]
