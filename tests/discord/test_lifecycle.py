"""The Discord bot's life: stopping with work in flight, a refused intent, slow answers."""

from __future__ import annotations

import asyncio
import logging

import discord
import pytest

from bots.discord import client as discord_client
from bots.i18n import Catalogs
from config import Settings
from core.detector import Detector
from tests.core.memory_store import MemoryStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    TOKEN,
    answered,
    bot_running,
    bot_settings,
    followup_of,
    post,
    reply_to,
    serving,
)
from tests.discord.fake_discord import MESSAGE_CONTENT
from tests.discord.fake_discord_mod import custom_ids
from tests.fakes import png_bytes
from tests.judges import GatedJudge, expected

pytestmark = pytest.mark.slow


async def test_stop_finishes_the_answer_in_flight_then_returns(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """On stop the gateway closes first, the answer being worked on is still sent, run() returns."""
    judge = GatedJudge(detector)
    image = png_bytes(30)
    async with serving(monkeypatch) as fake:
        configured = bot_settings(settings, fake)
        stop = asyncio.Event()
        bot = asyncio.create_task(
            discord_client.run(
                configured, judge, stop, store=MemoryStore(), catalogs=Catalogs.load()
            )
        )
        await fake.ready.wait()
        message = await post(fake, attachments=[fake.attachment("f.png", image)])
        await judge.entered.wait()
        stop.set()
        await fake.wait_for(lambda: fake.closes)  # the gateway is closed while work remains
        judge.gate.set()
        async with asyncio.timeout(20):
            await bot
        [reply] = await reply_to(fake, message)
    assert fake.closes == [1000]
    assert reply["content"] == await expected(detector, configured, image)


async def test_stop_when_idle_closes_the_session(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """With nothing in flight, stop closes the gateway with 1000 (no RESUME) and returns."""
    async with serving(monkeypatch) as fake:
        configured = bot_settings(settings, fake)
        async with bot_running(fake, configured, detector):
            assert fake.closes == []
    assert fake.closes == [1000]
    assert fake.resumes == []


async def test_missing_message_content_intent_warns_and_reconnects_without_it(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    detector: Detector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 4014 close is explained in the log; the bot reconnects and /check keeps working."""
    caplog.set_level(logging.WARNING, logger="bots")
    image = png_bytes(31)
    async with serving(monkeypatch, message_content_granted=False) as fake:
        configured = bot_settings(settings, fake)
        async with bot_running(fake, configured, detector):
            payload = fd.slash_check(fake.attachment("c.png", image))
            callback = await answered(fake, payload)
    asked = [bool(identify["intents"] & MESSAGE_CONTENT) for identify in fake.identifies]
    assert asked == [True, False]
    assert fake.closes[0] == 4014
    assert [r.getMessage() for r in caplog.records] == [discord_client.NO_MESSAGE_CONTENT]
    assert callback["data"]["content"] == await expected(detector, configured, image)


async def test_check_defers_first_when_the_queue_is_long(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """Past `defer_when_queue_over` the answer is deferred ("thinking...") then followed up."""
    judge = GatedJudge(detector, depth=10)
    judge.gate.set()
    image = png_bytes(32)
    async with serving(monkeypatch) as fake:
        configured = bot_settings(settings, fake, defer_when_queue_over=4)
        async with bot_running(fake, configured, judge):
            payload = fd.slash_check(fake.attachment("q.png", image))
            deferred = await answered(fake, payload)
            followup = await followup_of(fake, payload)
    assert deferred == {"type": 5, "data": {"flags": 64}}
    assert followup["flags"] == 64
    assert followup["content"] == await expected(detector, configured, image)


async def test_check_defers_when_the_answer_is_slow(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """An answer not ready within `answer_within_s` is deferred, then sent as a follow-up."""
    judge = GatedJudge(detector)
    image = png_bytes(33)
    async with serving(monkeypatch) as fake:
        configured = bot_settings(settings, fake, answer_within_s=0.05)
        async with bot_running(fake, configured, judge):
            payload = fd.slash_check(fake.attachment("s.png", image))
            deferred = await answered(fake, payload)
            judge.gate.set()
            followup = await followup_of(fake, payload)
    assert deferred["type"] == 5
    assert followup["content"] == await expected(detector, configured, image)


async def test_the_menus_deferred_verdict_keeps_its_why(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """The message menu's verdict sent as a follow-up still carries the "Why?" button."""
    judge = GatedJudge(detector)
    image = png_bytes(34)
    async with serving(monkeypatch) as fake:
        configured = bot_settings(settings, fake, answer_within_s=0.05)
        async with bot_running(fake, configured, judge):
            target = fd.message(attachments=[fake.attachment("d.png", image)])
            payload = fd.message_menu(target)
            deferred = await answered(fake, payload)
            judge.gate.set()
            followup = await followup_of(fake, payload)
    assert deferred["type"] == 5
    assert followup["flags"] & 64
    assert followup["content"] == await expected(detector, configured, image)
    assert custom_ids(followup) == [f"dg:why:{fd.CHANNEL_ID}:{target['id']}"]


async def test_a_rejected_token_fails_start_up_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """A token Discord rejects (401) ends `run` with LoginFailure, whose text omits the token."""
    async with serving(monkeypatch) as fake:
        fake.fail("GET", "/users/@me", 401, body={"message": "401: Unauthorized", "code": 0})
        configured = bot_settings(settings, fake)
        with pytest.raises(discord.LoginFailure) as failure:
            await discord_client.run(
                configured,
                detector,
                asyncio.Event(),
                store=MemoryStore(),
                catalogs=Catalogs.load(),
            )
    assert TOKEN not in str(failure.value)
    assert fake.identifies == []
