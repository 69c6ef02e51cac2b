"""The Telegram bot on bad input and faults: polite refusals, silence, busy, logged bugs."""

from __future__ import annotations

import logging

import pytest

from bots import replies
from bots.i18n import english
from bots.run import MASK
from bots.telegram.media import DownloadFailed, too_large_error
from config import Settings
from core.detector import Detector
from core.errors import CorruptImage, ImageTooLarge, Overloaded
from core.explain import Explanation
from core.result import Judgement
from tests.judges import PERCENT
from tests.sample_images import image_bytes, pixel_bomb
from tests.telegram.fake_telegram import FakeTelegram, isolated_fake
from tests.telegram.telegram_harness import bot_settings, running_bot

ENGLISH = english()

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


class FaultyJudge:
    """The real Detector, except for images the test scripted to raise."""

    def __init__(self, inner: Detector, faults: dict[bytes, Exception]) -> None:
        self.inner = inner
        self.faults = faults

    async def judge(self, data: bytes) -> Judgement:
        fault = self.faults.get(data)
        if fault is not None:
            raise fault
        return await self.inner.judge(data)

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        return await self.inner.explain(data, legend=legend)

    @property
    def depth(self) -> int:
        return self.inner.depth


fake = pytest.fixture(isolated_fake)


def texts(fake: FakeTelegram) -> list[str]:
    return [reply["text"] for reply in fake.sent()]


class TestRefusals:
    async def test_corrupt_image_and_pixel_bomb_are_refused_politely_and_the_bot_goes_on(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """A damaged image and a 20000x20000 PNG get a reason each; the next photo is judged."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            broken = b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20
            fake.push(fake.document(broken, "broken.png", "image/png"))
            await fake.wait_for("sendMessage")
            fake.push(fake.photo(pixel_bomb()))
            await fake.wait_for("sendMessage", 2)
            fake.push(fake.photo(image_bytes(1)))
            await fake.wait_for("sendMessage", 3)
        with pytest.raises(ImageTooLarge) as refusal:
            await detector.judge(pixel_bomb())
        assert texts(fake)[:2] == [
            replies.error_text(ENGLISH, CorruptImage()),
            replies.error_text(ENGLISH, refusal.value),
        ]
        assert PERCENT.search(texts(fake)[2])

    async def test_non_image_documents_get_no_reply(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """Text, PDF and unlabelled non-image files are ignored; labelled ones are not fetched."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            notes = fake.document(b"shopping list", "notes.txt", "text/plain")
            pdf = fake.document(b"%PDF-1.7 ...", "report.pdf", "application/pdf")
            blob = fake.document(b"PK\x03\x04 a zip file", "archive", None)
            for message in (notes, pdf, blob):
                fake.push(message)
            fake.push(fake.photo(image_bytes(2)))
            await fake.wait_for("sendMessage")
        [reply] = fake.sent()
        assert PERCENT.search(reply["text"])
        fetched = {call["file_id"] for call in fake.sent("getFile")}
        assert blob["document"]["file_id"] in fetched
        assert notes["document"]["file_id"] not in fetched
        assert pdf["document"]["file_id"] not in fetched

    async def test_oversized_file_is_refused_without_getfile(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """A file declared over the limit is refused from its size; Telegram is never asked."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            fake.push(fake.document(image_bytes(3), "big.png", "image/png", size=30 * MiB))
            [reply] = await fake.wait_for("sendMessage")
        assert reply["text"] == replies.error_text(ENGLISH, too_large_error(20 * MiB))
        assert "20 MB" in reply["text"]
        assert fake.called("getFile") == []

    async def test_file_telegram_will_not_serve_gets_a_reason(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """getFile saying "file is too big" and a failed download each get a polite reason."""
        fake.fail("getFile", 400, "Bad Request: file is too big")
        fake.fail("download", 500, "Internal Server Error")
        async with running_bot(fake, bot_settings(settings, fake), detector):
            fake.push(fake.photo(image_bytes(4)))
            await fake.wait_for("sendMessage")
            fake.push(fake.photo(image_bytes(5)))
            await fake.wait_for("sendMessage", 2)
        assert texts(fake) == [
            replies.error_text(ENGLISH, too_large_error(20 * MiB)),
            replies.error_text(ENGLISH, DownloadFailed()),
        ]


class TestFaults:
    async def test_overloaded_detector_gets_the_busy_reply(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """When the Detector refuses more work, the user is told to try again shortly."""
        busy = image_bytes(6)
        judge = FaultyJudge(detector, {busy: Overloaded()})
        async with running_bot(fake, bot_settings(settings, fake), judge):
            fake.push(fake.photo(busy))
            [reply] = await fake.wait_for("sendMessage")
        assert reply["text"] == replies.BUSY

    async def test_unexpected_error_is_logged_once_and_the_bot_keeps_serving(
        self,
        fake: FakeTelegram,
        settings: Settings,
        detector: Detector,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A bug is logged once with its traceback, the user hears so, and later photos work."""
        buggy = image_bytes(7)
        judge = FaultyJudge(detector, {buggy: RuntimeError("boom")})
        async with running_bot(fake, bot_settings(settings, fake), judge):
            fake.push(fake.photo(buggy))
            await fake.wait_for("sendMessage")
            fake.push(fake.photo(image_bytes(8)))
            await fake.wait_for("sendMessage", 2)
        failure, verdict = texts(fake)
        assert failure == replies.UNEXPECTED
        assert PERCENT.search(verdict)
        logged = [r for r in caplog.records if r.exc_info and "boom" in str(r.exc_info[1])]
        assert len(logged) == 1
        assert logged[0].levelno == logging.ERROR
        assert "Traceback" in caplog.text

    async def test_telegram_failures_are_one_warning_each_and_the_bot_keeps_serving(
        self,
        fake: FakeTelegram,
        settings: Settings,
        detector: Detector,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A failed poll and a refused reply are logged as warnings; later photos are answered."""
        fake.fail("getUpdates", 502, "Bad Gateway")
        fake.fail("sendMessage", 403, "Forbidden: bot was kicked from the group chat")
        async with running_bot(fake, bot_settings(settings, fake), detector):
            fake.push(fake.photo(image_bytes(12)))
            await fake.wait_until(lambda: len(fake.called("sendMessage")) == 1)
            fake.push(fake.photo(image_bytes(13)))
            [reply] = await fake.wait_for("sendMessage")
        assert PERCENT.search(reply["text"])
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("polling Telegram failed" in text for text in warnings)
        assert any("bot was kicked" in text for text in warnings)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


class TestSecrets:
    async def test_token_never_reaches_the_logs(
        self,
        fake: FakeTelegram,
        settings: Settings,
        detector: Detector,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """File URLs carry the token; no log record shows it, tracebacks included."""
        caplog.set_level(logging.DEBUG)
        leaky = image_bytes(9)
        url_error = RuntimeError(f"GET {fake.base_file_url}{fake.token}/photos/file_1 failed")
        judge = FaultyJudge(detector, {leaky: url_error})
        fake.fail("download", 500, "Internal Server Error")
        factory = logging.getLogRecordFactory()
        async with running_bot(fake, bot_settings(settings, fake), judge):
            for n, data in enumerate([image_bytes(10), leaky, image_bytes(11)], 1):
                fake.push(fake.photo(data))
                await fake.wait_for("sendMessage", n)
        assert fake.sent("getFile")
        assert fake.token not in caplog.text
        for record in caplog.records:
            assert fake.token not in record.getMessage()
            assert fake.token not in (record.exc_text or "")
        assert MASK in caplog.text  # URLs were logged, redacted: the check above saw them
        assert logging.getLogRecordFactory() is factory
