"""The "Why?" button through the real PTB client against the fake Bot API.

A verdict reply carries the inline button (a refusal does not); a press re-downloads the image
of the message the reply quotes and answers with the picture as a photo quoting the reply, also
in a new run of the bot; the press spends a token like a check.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from bots.explain_replies import EXPLAIN_CAPTION, WHY_DATA, OriginalGone
from bots.i18n import english
from bots.replies import THROTTLED, error_text
from config import Settings, ThrottleSettings
from core.detector import Detector
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram import FakeTelegram, isolated_fake
from tests.telegram.telegram_harness import bot_settings, running_bot
from tests.telegram.telegram_payloads import ALICE, BOT_USER, Json, chat, user

ENGLISH = english()

pytestmark = pytest.mark.slow

fake = pytest.fixture(isolated_fake)


class Photos:
    """Answers sendPhoto as Telegram does, keeping each photo's bytes."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.sent: list[bytes] = []
        fake.answers["sendphoto"] = self._send
        fake.answers["answercallbackquery"] = lambda params: True

    def _send(self, params: Json) -> Json:
        field = params["photo"]
        assert isinstance(field, web.FileField)
        self.sent.append(field.file.read())
        return {
            "message_id": 9000 + len(self.sent),
            "date": 0,
            "chat": chat(ALICE),
            "from": BOT_USER,
        }


def verdict_reply(sent: Json, original: Json) -> Json:
    """The bot's reply as a callback query brings it: the message it quotes included."""
    return {
        "message_id": 5000,
        "date": 0,
        "chat": chat(int(sent["chat_id"])),
        "from": BOT_USER,
        "text": sent["text"],
        "reply_to_message": original,
    }


def press(fake: FakeTelegram, reply: Json, user_id: int = ALICE) -> None:
    query = {"id": f"q-{len(fake.calls)}", "from": user(user_id), "chat_instance": "i"}
    fake.push_update("callback_query", {**query, "message": reply, "data": WHY_DATA})


def buttons(sent: Json) -> list[str]:
    markup: dict[str, Any] = sent.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def alerts(fake: FakeTelegram) -> list[str]:
    return [str(params.get("text", "")) for params in fake.sent("answerCallbackQuery")]


def png_width(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.format == "PNG"
        return picture.width


async def test_why_answers_with_the_picture_as_a_photo_reply(
    fake: FakeTelegram, settings: Settings, detector: Detector
) -> None:
    """A verdict reply has the button; a press gets the PNG quoting that reply."""
    photos = Photos(fake)
    async with running_bot(fake, bot_settings(settings, fake), detector):
        original = fake.photo(image_bytes(51))
        fake.push(original)
        [sent] = await fake.wait_for("sendMessage")
        press(fake, verdict_reply(sent, original))
        [photo] = await fake.wait_for("sendPhoto")
    assert buttons(sent) == [WHY_DATA]
    assert photo["caption"] == EXPLAIN_CAPTION
    assert photo["reply_parameters"]["message_id"] == 5000
    assert png_width(photos.sent[0]) >= 360


async def test_why_works_in_a_new_run_and_refusals_have_no_button(
    fake: FakeTelegram, settings: Settings, detector: Detector
) -> None:
    """After a restart the old reply's button still answers; a refused image's reply has none."""
    photos = Photos(fake)
    configured = bot_settings(settings, fake)
    async with running_bot(fake, configured, detector):
        original = fake.photo(image_bytes(52))
        fake.push(original)
        [sent] = await fake.wait_for("sendMessage")
        fake.push(fake.photo(b"\x89PNG\r\n\x1a\n broken"))
        [_, refusal] = await fake.wait_for("sendMessage", 2)
    async with running_bot(fake, configured, detector):
        press(fake, verdict_reply(sent, original))
        await fake.wait_for("sendPhoto")
    assert buttons(refusal) == []
    assert png_width(photos.sent[0]) >= 360


async def test_why_is_throttled_and_needs_the_original(
    fake: FakeTelegram, settings: Settings, detector: Detector
) -> None:
    """Out of tokens, the presser is told so; a reply quoting nothing says the original is gone."""
    Photos(fake)
    slow = settings.model_copy(update={"throttle": ThrottleSettings(burst=1, per_minute=0.01)})
    async with running_bot(fake, bot_settings(slow, fake), detector):
        original = fake.photo(image_bytes(53))
        fake.push(original)  # its poster, the presser below, spends the only token
        [sent] = await fake.wait_for("sendMessage")
        press(fake, verdict_reply(sent, original))
        await fake.wait_for("answerCallbackQuery")
        orphan = verdict_reply(sent, original)
        del orphan["reply_to_message"]
        press(fake, orphan)
        await fake.wait_for("answerCallbackQuery", 2)
    assert alerts(fake) == [THROTTLED, error_text(ENGLISH, OriginalGone())]
    assert fake.sent("sendPhoto") == []
