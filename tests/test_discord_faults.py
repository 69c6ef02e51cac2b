"""The Discord bot under faults: replays, overload, floods, refused replies, rate limits, bugs.

Each test starts the real discord.py client through `discord_bot.run` against the fake Discord.
Fault cases use small fake judges; the rest judge with the tiny random model.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from bots import replies
from bots.redact import MASK, install_redaction
from config import Settings, ThrottleSettings
from core import Detector, Judgement, Overloaded
from tests import fake_discord as fd
from tests.discord_harness import (
    TOKEN,
    bot_running,
    bot_settings,
    callback_of,
    eventually,
    followup_of,
    post,
    reply_to,
    served_bot,
    served_fake,
)
from tests.fake_discord import FakeDiscord
from tests.fakes import png_bytes
from tests.judges import expected

pytestmark = pytest.mark.slow

OTHER = fd.OTHER_CHANNEL_ID


class OverloadedJudge:
    """A core whose queue is always full."""

    depth = 64

    async def judge(self, data: bytes) -> Judgement:
        raise Overloaded()


class BrokenOnceJudge:
    """Fails the first call with a bug, then judges for real."""

    def __init__(self, inner: Detector) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def depth(self) -> int:
        return 0

    async def judge(self, data: bytes) -> Judgement:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("a bug in the core")
        return await self.inner.judge(data)


fake = pytest.fixture(served_fake)
bot = pytest.fixture(served_bot)


def image_message(fake: FakeDiscord, red: int, channel: str = fd.CHANNEL_ID) -> dict[str, Any]:
    """Keyword arguments of `post` for a message with one image."""
    return {"channel_id": channel, "attachments": [fake.attachment("i.png", png_bytes(red))]}


async def test_duplicate_message_create_gets_one_reply(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """The same MESSAGE_CREATE delivered twice is answered once."""
    async with bot_running(fake, bot_settings(settings, fake), detector):
        message = fd.message(attachments=[fake.attachment("d.png", png_bytes(5))])
        await fake.dispatch("MESSAGE_CREATE", message)
        await fake.dispatch("MESSAGE_CREATE", message)
        marker = await post(fake, **image_message(fake, 6))
        await reply_to(fake, marker)  # so the duplicate was taken up too; the stop drains it
    assert len(await reply_to(fake, message)) == 1


async def test_events_replayed_after_a_resume_are_answered_once(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """After the gateway drops and the session RESUMEs, a replayed message is not re-answered."""
    async with bot_running(fake, bot_settings(settings, fake), detector):
        message = await post(fake, **image_message(fake, 7))
        await reply_to(fake, message)
        await fake.reconnect(replay=1)
        await fake.wait_for(lambda: fake.resumes)
        marker = await post(fake, **image_message(fake, 8))
        await reply_to(fake, marker)
    assert fake.resumes[0]["session_id"] == "fake-session"
    assert len(await reply_to(fake, message)) == 1


async def test_overload_gets_the_busy_answer(fake: FakeDiscord, settings: Settings) -> None:
    """A full queue gets the shared busy wording, in channels and (deferred) to /check."""
    async with bot_running(fake, bot_settings(settings, fake), OverloadedJudge()):
        message = await post(fake, **image_message(fake, 9))
        [reply] = await reply_to(fake, message)
        payload = fd.slash_check(fake.attachment("s.png", png_bytes(10)))
        await fake.dispatch("INTERACTION_CREATE", payload)
        deferred = await callback_of(fake, payload)
        followup = await followup_of(fake, payload)
    assert reply["content"] == replies.BUSY
    assert deferred["type"] == 5  # a long queue: "thinking..." first
    assert followup["content"] == replies.BUSY


async def test_a_flooding_user_is_told_once_then_ignored(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """Past the burst a user hears one notice; further posts are skipped; /check still answers."""
    slow = settings.model_copy(update={"throttle": ThrottleSettings(burst=2, per_minute=0.01)})
    async with bot_running(fake, bot_settings(slow, fake), detector):
        posted = [await post(fake, **image_message(fake, red)) for red in (11, 12, 13)]
        answers = [(await reply_to(fake, message))[0]["content"] for message in posted]
        await post(fake, **image_message(fake, 14))
        payload = fd.slash_check(fake.attachment("t.png", png_bytes(15)))
        await fake.dispatch("INTERACTION_CREATE", payload)
        callback = await callback_of(fake, payload)
    assert [replies.THROTTLED in text for text in answers] == [False, False, True]
    assert callback["data"]["content"] == replies.THROTTLED
    assert len(fake.replies()) == 3


async def test_forbidden_reply_is_logged_once_and_the_channel_skipped(
    fake: FakeDiscord, bot: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A 403 on reply is logged once; that channel is left alone; others are still answered."""
    caplog.set_level(logging.WARNING, logger="bots")
    fake.fail(
        "POST",
        f"/channels/{OTHER}/messages",
        403,
        body={"message": "Missing Access", "code": 50001},
        times=5,
    )

    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "cannot reply in channel" in r.getMessage()]

    await post(fake, **image_message(fake, 16, OTHER))
    await eventually(warnings)
    await post(fake, **image_message(fake, 17, OTHER))
    marker = await post(fake, **image_message(fake, 18))
    await reply_to(fake, marker)
    assert len(fake.sent(f"/channels/{OTHER}/messages")) == 1
    assert len(warnings()) == 1
    assert "Missing Access" in warnings()[0].getMessage()


async def test_rate_limited_reply_is_retried_by_the_client(
    fake: FakeDiscord, bot: Settings
) -> None:
    """A 429 (with Discord's Via header) is waited out by discord.py and the reply still lands."""
    limited = {"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
    fake.fail(
        "POST",
        f"/channels/{fd.CHANNEL_ID}/messages",
        429,
        body=limited,
        headers={"Via": "1.1 google"},
    )
    message = await post(fake, **image_message(fake, 19))
    [reply] = await reply_to(fake, message)
    assert len(fake.sent(f"/channels/{fd.CHANNEL_ID}/messages")) == 2
    assert re.search(r"\b\d{1,3}%", reply["content"])


async def test_the_token_never_reaches_the_logs(
    fake: FakeDiscord, settings: Settings, detector: Detector, caplog: pytest.LogCaptureFixture
) -> None:
    """With redaction installed as `deepguard run` does, even an error echoing the token is masked."""
    caplog.set_level(logging.DEBUG)
    undo = install_redaction([TOKEN])
    try:
        echo = {"message": f"Missing Access for Bot {TOKEN}", "code": 50001}
        fake.fail("POST", f"/channels/{OTHER}/messages", 403, body=echo)
        async with bot_running(fake, bot_settings(settings, fake), detector):
            await post(fake, **image_message(fake, 20, OTHER))
            await eventually(lambda: MASK in caplog.text)
    finally:
        undo()
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (record.exc_text or "")


async def test_an_unexpected_error_is_logged_once_and_the_bot_keeps_serving(
    fake: FakeDiscord, settings: Settings, detector: Detector, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug while answering is logged once with its traceback; the next message is answered."""
    caplog.set_level(logging.ERROR, logger="bots")
    configured = bot_settings(settings, fake)
    async with bot_running(fake, configured, BrokenOnceJudge(detector)):
        await post(fake, **image_message(fake, 21))
        good = png_bytes(22)
        message = await post(fake, attachments=[fake.attachment("g.png", good)])
        [reply] = await reply_to(fake, message)
    bugs = [r for r in caplog.records if r.exc_info and "a bug in the core" in str(r.exc_info[1])]
    assert len(bugs) == 1
    assert "unexpected error" in bugs[0].getMessage()
    assert reply["content"] == await expected(detector, configured, good)


async def test_an_unexpected_error_in_check_still_answers_the_user(
    fake: FakeDiscord, settings: Settings, detector: Detector, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug inside /check is logged with its traceback and the asker gets an apology."""
    caplog.set_level(logging.ERROR, logger="bots")
    async with bot_running(fake, bot_settings(settings, fake), BrokenOnceJudge(detector)):
        payload = fd.slash_check(fake.attachment("b.png", png_bytes(23)))
        await fake.dispatch("INTERACTION_CREATE", payload)
        callback = await callback_of(fake, payload)
    assert callback["data"] == {**callback["data"], "content": replies.UNEXPECTED, "flags": 64}
    assert [r.getMessage() for r in caplog.records if r.exc_info] == ["unexpected error in /check"]
