"""Both bots end to end with the remote core: judged by `deepguard serve` on loopback.

The module's `settings` carry `core_url` and its `detector` is what `deepguard run` opens from
them (`bots.run._open_judge`), a `RemoteDetector`, overriding conftest's local Detector. The
classes below re-run representative end-to-end tests of each platform, unchanged, under it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from api.client import RemoteDetector
from bots import replies
from bots.run import _open_judge
from config import RemoteSettings, Settings
from core.classifier import Classifier
from core.detector import Judge
from tests.api.http_harness import Running, serve_settings, serving
from tests.discord import (
    discord_harness,
)
from tests.discord import (
    test_bot as test_discord_bot,
)
from tests.discord import (
    test_commands as test_discord_commands,
)
from tests.fakes import FakeClassifier, Gate, png_bytes
from tests.sample_images import image_bytes
from tests.telegram import test_e2e as test_telegram_e2e
from tests.telegram import test_faults as test_telegram_faults
from tests.telegram.fake_telegram import FakeTelegram, isolated_fake
from tests.telegram.telegram_harness import bot_settings, isolate_environment, running_bot

pytestmark = pytest.mark.slow


@pytest.fixture
async def api(classifier: Classifier) -> AsyncIterator[Running]:
    """`deepguard serve` with the tiny model, listening on loopback."""
    async with serving(serve_settings(), classifier) as running:
        yield running


@pytest.fixture
def settings(settings: Settings, api: Running) -> Settings:
    """Conftest's settings, plus DEEPGUARD_CORE_URL pointing at the live API."""
    return settings.model_copy(update={"core_url": api.url})


@pytest.fixture
async def detector(settings: Settings) -> AsyncIterator[Judge]:
    """The judge `deepguard run` builds from these settings: the remote core, not a model."""
    async with _open_judge(settings) as judge:
        assert isinstance(judge, RemoteDetector)
        yield judge


class TestTelegram:
    """Telegram's photo, refusal and command tests, judged remotely."""

    fake = pytest.fixture(staticmethod(isolated_fake))

    test_photo = test_telegram_e2e.TestAnswers.test_photo_gets_a_reply_quoting_it
    test_album = test_telegram_e2e.TestAnswers.test_album_of_three_gets_one_reply
    test_refusals = test_telegram_faults.TestRefusals.test_corrupt_image_and_pixel_bomb_are_refused_politely_and_the_bot_goes_on
    test_check = test_telegram_e2e.TestCommands.test_check_in_reply_to_a_photo_judges_that_photo


class TestDiscord:
    """Discord's attachment, refusal and /check tests, judged remotely."""

    fake = pytest.fixture(staticmethod(discord_harness.served_fake))
    bot = pytest.fixture(staticmethod(discord_harness.served_bot))

    test_photo = staticmethod(test_discord_bot.test_attachment_gets_one_reply_with_a_percentage)
    test_three = staticmethod(
        test_discord_bot.test_three_attachments_get_one_reply_with_three_verdicts
    )
    test_refusals = staticmethod(
        test_discord_bot.test_corrupt_and_bomb_images_are_refused_and_the_next_is_answered
    )
    test_check = staticmethod(test_discord_commands.test_slash_check_answers_privately)


@pytest.fixture
async def busy_api() -> AsyncIterator[tuple[Running, FakeClassifier]]:
    """An API whose one slot is held by a request stuck in the model: every other gets 429."""
    model = FakeClassifier(gate=Gate(opened=False))
    async with serving(serve_settings(max_in_flight=1), model) as running:
        try:
            yield running, model
        finally:
            model.gate.open()


@pytest.fixture
async def busy_judge(
    busy_api: tuple[Running, FakeClassifier], settings: Settings
) -> AsyncIterator[Judge]:
    """The remote core against the busy API, retrying quickly; the slot is taken on entry."""
    running, model = busy_api
    quick = RemoteSettings(retries=1, max_retry_wait_s=0.01, timeout_s=10)
    remote = settings.model_copy(update={"core_url": running.url, "remote": quick})
    async with _open_judge(remote) as judge:
        held = asyncio.create_task(judge.judge(png_bytes(1)))
        await model.gate.arrived()
        yield judge
        model.gate.open()
        await held


async def test_telegram_says_busy_when_the_remote_core_is_full(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, busy_judge: Judge
) -> None:
    """A photo the remote API refuses with 429 (after the retry) gets the shared busy answer."""
    isolate_environment(monkeypatch)
    async with FakeTelegram() as fake, running_bot(fake, bot_settings(settings, fake), busy_judge):
        fake.push(fake.photo(image_bytes(7)))
        [reply] = await fake.wait_for("sendMessage")
    assert reply["text"] == replies.BUSY


async def test_discord_says_busy_when_the_remote_core_is_full(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, busy_judge: Judge
) -> None:
    """An attachment the remote API refuses with 429 (after the retry) gets the busy answer."""
    async with discord_harness.serving(monkeypatch) as fake:
        configured = discord_harness.bot_settings(settings, fake)
        async with discord_harness.bot_running(fake, configured, busy_judge):
            posted = await discord_harness.post(
                fake, attachments=[fake.attachment("busy.png", png_bytes(8))]
            )
            [reply] = await discord_harness.reply_to(fake, posted)
    assert reply["content"] == replies.BUSY
