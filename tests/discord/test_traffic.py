"""The Discord bot under heavy or repeated traffic: duplicate and replayed events, a full
queue, and a flooding user.

Each test starts the real discord.py client through `discord_client.run` against the fake Discord;
the overload case uses a fake judge, the rest judge with the tiny random model.
"""

from __future__ import annotations

import pytest

from bots import replies
from config import Settings, ThrottleSettings
from core.detector import Detector
from core.errors import Overloaded
from core.explain import Explanation
from core.moderation.types import ChatKey, ChatPolicy
from core.result import Judgement
from tests.core.memory_store import MemoryStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    answered,
    bot_running,
    bot_settings,
    followup_of,
    image,
    post,
    reply_to,
    served_fake,
)
from tests.discord.fake_discord import FakeDiscord
from tests.fakes import png_bytes

pytestmark = pytest.mark.slow


class OverloadedJudge:
    """A core whose queue is always full."""

    depth = 64

    async def judge(self, data: bytes) -> Judgement:
        raise Overloaded()

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        raise Overloaded()


fake = pytest.fixture(served_fake)


async def test_duplicate_message_create_gets_one_reply(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """The same MESSAGE_CREATE delivered twice is answered once."""
    async with bot_running(fake, bot_settings(settings, fake), detector):
        message = fd.message(attachments=[fake.attachment("d.png", png_bytes(5))])
        await fake.dispatch("MESSAGE_CREATE", message)
        await fake.dispatch("MESSAGE_CREATE", message)
        marker = await post(fake, **image(fake, 6))
        await reply_to(fake, marker)  # so the duplicate was taken up too; the stop drains it
    assert len(await reply_to(fake, message)) == 1


async def test_events_replayed_after_a_resume_are_answered_once(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """After the gateway drops and the session RESUMEs, a replayed message is not re-answered."""
    async with bot_running(fake, bot_settings(settings, fake), detector):
        message = await post(fake, **image(fake, 7))
        await reply_to(fake, message)
        await fake.reconnect(replay=1)
        await fake.wait_for(lambda: fake.resumes)
        marker = await post(fake, **image(fake, 8))
        await reply_to(fake, marker)
    assert fake.resumes[0]["session_id"] == "fake-session"
    assert len(await reply_to(fake, message)) == 1


async def test_overload_gets_the_busy_answer(fake: FakeDiscord, settings: Settings) -> None:
    """A full queue gets the shared busy wording, in channels and (deferred) to /check."""
    async with bot_running(fake, bot_settings(settings, fake), OverloadedJudge()):
        message = await post(fake, **image(fake, 9))
        [reply] = await reply_to(fake, message)
        payload = fd.slash_check(fake.attachment("s.png", png_bytes(10)))
        deferred = await answered(fake, payload)
        followup = await followup_of(fake, payload)
    assert reply["content"] == replies.BUSY
    assert deferred["type"] == 5  # a long queue: "thinking..." first
    assert followup["content"] == replies.BUSY


async def test_a_flooding_user_is_told_once_then_ignored(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """Past the burst a user hears one notice; further posts are skipped; /check still answers.

    The server flags nothing (no flag actions), so nothing waits for the rate: in a moderated
    server images over it wait instead (tests/discord/test_mod_flood.py).
    """
    slow = settings.model_copy(update={"throttle": ThrottleSettings(burst=2, per_minute=0.01)})
    store = MemoryStore()
    await store.save_policy(ChatKey("discord", fd.GUILD_ID), ChatPolicy(actions=frozenset()))
    async with bot_running(fake, bot_settings(slow, fake), detector, store):
        posted = [await post(fake, **image(fake, red)) for red in (11, 12, 13)]
        answers = [(await reply_to(fake, message))[0]["content"] for message in posted]
        await post(fake, **image(fake, 14))
        payload = fd.slash_check(fake.attachment("t.png", png_bytes(15)))
        callback = await answered(fake, payload)
    assert [replies.THROTTLED in text for text in answers] == [False, False, True]
    assert callback["data"]["content"] == replies.THROTTLED
    assert len(fake.replies()) == 3
