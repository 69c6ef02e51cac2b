"""The Discord bot under faults: refused replies, rate limits, the token in errors, and bugs.

Replays, overload and floods are in test_discord_traffic.

Each test starts the real discord.py client through `discord_client.run` against the fake Discord.
Fault cases use small fake judges; the rest judge with the tiny random model.
"""

from __future__ import annotations

import logging

import pytest

from bots import replies
from bots.run import MASK, install_redaction
from config import Settings
from core.detector import Detector
from core.explain import Explanation
from core.result import Judgement
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    TOKEN,
    answered,
    bot_running,
    bot_settings,
    eventually,
    image,
    post,
    reply_to,
    served_bot,
    served_fake,
)
from tests.discord.fake_discord import FakeDiscord
from tests.fakes import png_bytes
from tests.judges import PERCENT, expected

pytestmark = pytest.mark.slow

OTHER = fd.OTHER_CHANNEL_ID


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

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        return await self.inner.explain(data, legend=legend)


fake = pytest.fixture(served_fake)
bot = pytest.fixture(served_bot)


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

    await post(fake, **image(fake, 16, channel_id=OTHER))
    await eventually(warnings)
    await post(fake, **image(fake, 17, channel_id=OTHER))
    marker = await post(fake, **image(fake, 18))
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
    message = await post(fake, **image(fake, 19))
    [reply] = await reply_to(fake, message)
    assert len(fake.sent(f"/channels/{fd.CHANNEL_ID}/messages")) == 2
    assert PERCENT.search(reply["content"])


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
            await post(fake, **image(fake, 20, channel_id=OTHER))
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
        await post(fake, **image(fake, 21))
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
        callback = await answered(fake, payload)
    assert callback["data"] == {**callback["data"], "content": replies.UNEXPECTED, "flags": 64}
    assert [r.getMessage() for r in caplog.records if r.exc_info] == ["unexpected error in /check"]
