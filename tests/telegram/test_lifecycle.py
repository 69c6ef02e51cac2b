"""Starting and stopping the Telegram bot: graceful stop, the grace period, webhook mode."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest
from telegram.error import InvalidToken

from bots import run as app
from bots.i18n import Catalogs
from bots.telegram import application as telegram_app
from config import Settings
from core.detector import Detector
from tests.core.memory_store import MemoryStore
from tests.judges import PERCENT, GatedJudge
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram import FakeTelegram, isolated_fake
from tests.telegram.telegram_harness import (
    WEBHOOK_SECRET,
    bot_settings,
    post_update,
    running_bot,
    webhook_settings,
)

pytestmark = pytest.mark.slow


fake = pytest.fixture(isolated_fake)


def final_poll_made(fake: FakeTelegram) -> bool:
    """The updater's last getUpdates (timeout 0) confirms what it fetched: polling is over."""
    return any(call.params.get("timeout") == 0 for call in fake.called("getUpdates"))


class TestStop:
    async def test_stop_answers_the_update_in_flight_then_returns(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """After stop, no new update is taken, the one being judged is answered, run returns."""
        judge = GatedJudge(detector)
        async with running_bot(fake, bot_settings(settings, fake), judge) as bot:
            in_flight = fake.photo(image_bytes(1))
            fake.push(in_flight)
            await judge.entered.wait()
            bot.stop.set()
            await fake.wait_until(lambda: final_poll_made(fake))
            late = fake.push(fake.photo(image_bytes(2)))
            assert not bot.task.done()
            judge.gate.set()
            async with asyncio.timeout(8):
                await bot.task
        [reply] = fake.sent()
        assert reply["reply_parameters"]["message_id"] == in_flight["message_id"]
        assert fake.unconfirmed == [late]  # left for Telegram to redeliver after a restart

    async def test_stop_cancels_what_outlives_the_grace_period(
        self,
        fake: FakeTelegram,
        settings: Settings,
        detector: Detector,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """An update still stuck when the grace period ends is cancelled so run can return."""
        judge = GatedJudge(detector)
        quick = bot_settings(settings, fake, stop_grace_s=0.2)
        async with running_bot(fake, quick, judge) as bot:
            fake.push(fake.photo(image_bytes(3)))
            await judge.entered.wait()
            bot.stop.set()
            async with asyncio.timeout(8):
                await bot.task
        assert fake.sent() == []
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert "telegram stop: cancelled 1 updates still in flight" in warnings


class TestWebhook:
    async def test_webhook_mode_accepts_updates_carrying_the_secret(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """In webhook mode the bot registers its URL and answers a posted update with the secret."""
        hooked, url = webhook_settings(settings, fake)
        async with running_bot(fake, hooked, detector, ready="setWebhook"):
            forged = {"update_id": 1, "message": fake.photo(image_bytes(4))}
            assert await post_update(url, forged, "wrong") == 403
            photo = fake.photo(image_bytes(5))
            assert (
                await post_update(url, {"update_id": 2, "message": photo}, WEBHOOK_SECRET) == 200
            )
            [reply] = await fake.wait_for("sendMessage")
        [hook] = fake.sent("setWebhook")
        assert hook["url"] == "https://bot.example.org/hook"
        assert hook["secret_token"] == WEBHOOK_SECRET
        assert reply["reply_parameters"]["message_id"] == photo["message_id"]
        assert fake.called("getUpdates") == []


class TestStart:
    async def test_rejected_token_fails_run_without_showing_the_token(
        self, fake: FakeTelegram, settings: Settings, detector: Detector
    ) -> None:
        """A token Telegram refuses ends run with an error that names the variable, not the token."""
        wrong = bot_settings(settings, fake, token="999:WRONG-secret-token")
        with pytest.raises(InvalidToken) as refusal:
            await telegram_app.run(
                wrong,
                detector,
                asyncio.Event(),
                store=MemoryStore(),
                catalogs=Catalogs.load(),
            )
        assert "WRONG-secret-token" not in str(refusal.value)
        assert "DEEPGUARD_TELEGRAM__TOKEN" in str(refusal.value)
        assert [call.method for call in fake.calls] == ["getme"]


class TestDeepguardRun:
    async def test_sigterm_stops_deepguard_run_after_answering(
        self, fake: FakeTelegram, settings: Settings, tmp_path: Path
    ) -> None:
        """`deepguard run` with a Telegram token answers a photo, and SIGTERM ends it cleanly."""
        configured = bot_settings(settings, fake).model_copy(
            update={"health_file": tmp_path / "alive"}
        )
        running = asyncio.create_task(app.run(configured))
        waiting = asyncio.ensure_future(fake.wait_for("getUpdates"))
        await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
        assert not running.done(), running  # SIGTERM below needs run's handler installed
        fake.push(fake.photo(image_bytes(6)))
        [reply] = await fake.wait_for("sendMessage")
        signal.raise_signal(signal.SIGTERM)
        async with asyncio.timeout(8):
            await running
        assert PERCENT.search(reply["text"])
        assert final_poll_made(fake)
