"""The "Why?" button and `/explain` through the real discord.py client against the fake Discord.

A verdict reply carries the button (a refusal does not); pressing it fetches the original
message again through the reply's reference and answers the presser privately with the PNG,
also after a restart (a new client); the press spends a token like a check. The message menu's
private verdict has a button whose id names the checked message; a forged one is refused.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bots import replies
from bots.explain_replies import EXPLAIN_CAPTION, WHY_DATA, OriginalGone, explain_caption
from bots.i18n import Catalogs, english
from bots.moderation_replies import BUTTON_EXPIRED
from config import Settings, ThrottleSettings
from core.detector import Detector
from core.moderation.types import ChatKey, ChatPolicy
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
from tests.discord.discord_payloads import Json, interaction, snowflake
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_discord_mod import click, custom_ids, posted
from tests.fakes import png_bytes
from tests.sample_clips import H264_MP4, noise_frames, video_bytes

ENGLISH = english()

pytestmark = pytest.mark.slow

fake = pytest.fixture(served_fake)


def the_reply(fake: FakeDiscord, original: Json, body: Json) -> Json:
    """The bot's reply as Discord sends it back in a click: it references the original."""
    reference = {"message_id": original["id"], "channel_id": original["channel_id"]}
    return {**posted(body), "message_reference": {**reference, "guild_id": fd.GUILD_ID}}


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.format == "PNG"
        return picture.size


async def answers_only() -> MemoryStore:
    """A store where the server moderates nothing: the bot only answers."""
    store = MemoryStore()
    await store.save_policy(ChatKey("discord", fd.GUILD_ID), ChatPolicy(actions=frozenset()))
    return store


async def press(fake: FakeDiscord, reply: Json) -> tuple[Json, Json]:
    """Press Why? on `reply`; the callback (deferred) and the follow-up that answers."""
    pressed = click(WHY_DATA, reply)
    callback = await answered(fake, pressed)
    return callback, await followup_of(fake, pressed)


async def test_why_answers_the_presser_privately_with_the_picture(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A verdict reply has the button; pressing it gives an ephemeral follow-up with a PNG."""
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        original = await post(fake, **image(fake, 41))
        fake.messages[original["id"]] = original
        (body,) = await reply_to(fake, original)
        callback, followup = await press(fake, the_reply(fake, original, body))
    assert WHY_DATA in custom_ids(body)
    assert callback["type"] == 5  # thinking...
    assert callback["data"]["flags"] & 64  # privately
    assert followup["flags"] & 64
    assert followup["content"] == EXPLAIN_CAPTION
    (picture,) = followup["uploaded"]
    width, height = png_size(picture)
    assert width >= 360
    assert height > width // 2


async def test_why_under_a_video_shows_its_most_suspicious_frame(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A press under a video's verdict answers with that frame's picture, not a refusal."""
    clip = video_bytes(noise_frames(12, side=48, seed=22), H264_MP4)
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        original = await post(fake, attachments=[fake.attachment("clip.mp4", clip, "video/mp4")])
        fake.messages[original["id"]] = original
        (body,) = await reply_to(fake, original)
        _, followup = await press(fake, the_reply(fake, original, body))
    explained = await detector.explain(clip)
    assert explained.frame is not None
    assert followup["content"] == explain_caption(ENGLISH, explained)
    assert followup["content"] != EXPLAIN_CAPTION
    (picture,) = followup["uploaded"]
    assert png_size(picture)[0] >= 360


async def test_why_still_works_after_a_restart(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """The button of a reply made before a restart is answered by the new client."""
    configured = bot_settings(settings, fake)
    async with bot_running(fake, configured, detector, await answers_only()):
        original = await post(fake, **image(fake, 42))
        fake.messages[original["id"]] = original
        (body,) = await reply_to(fake, original)
    fake.ready.clear()
    async with bot_running(fake, configured, detector, await answers_only()):
        _, followup = await press(fake, the_reply(fake, original, body))
    (picture,) = followup["uploaded"]
    assert png_size(picture)[0] >= 360


async def test_a_refusal_has_no_why_and_a_deleted_original_is_said(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A refused image's reply has no button; Why? on a reply whose original is gone says so."""
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        corrupt = fake.attachment("bad.png", b"\x89PNG\r\n\x1a\n broken")
        refused = await post(fake, attachments=[corrupt])
        (refusal,) = await reply_to(fake, refused)
        original = await post(fake, **image(fake, 43))  # never kept: deleted since
        (body,) = await reply_to(fake, original)
        _, followup = await press(fake, the_reply(fake, original, body))
    assert custom_ids(refusal) == []
    assert followup["content"] == replies.error_text(ENGLISH, OriginalGone())
    assert followup["flags"] & 64


async def test_why_is_throttled_like_a_check(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A presser out of tokens is told they are throttled; no picture is made."""
    slow = settings.model_copy(update={"throttle": ThrottleSettings(burst=1, per_minute=0.01)})
    async with bot_running(fake, bot_settings(slow, fake), detector, await answers_only()):
        original = await post(fake, **image(fake, 44))  # the poster (the presser) spends it
        fake.messages[original["id"]] = original
        (body,) = await reply_to(fake, original)
        callback = await answered(fake, click(WHY_DATA, the_reply(fake, original, body)))
    assert callback["data"]["content"] == replies.THROTTLED
    assert callback["data"]["flags"] & 64


async def test_explain_command_answers_with_the_picture(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """`/explain image:` answers privately with the PNG of that attachment."""
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        attachment = fake.attachment("e.png", png_bytes(45))
        payload = interaction(
            {
                "id": snowflake(),
                "name": "explain",
                "type": 1,
                "options": [{"name": "image", "type": 11, "value": attachment["id"]}],
                "resolved": {"attachments": {attachment["id"]: attachment}},
            }
        )
        callback = await answered(fake, payload)
        followup = await followup_of(fake, payload)
    assert callback["type"] == 5
    (picture,) = followup["uploaded"]
    assert png_size(picture)[0] >= 360
    assert followup["flags"] & 64


async def menu_verdict(fake: FakeDiscord, target: Json) -> Json:
    """The message menu's private answer about `target` (answered at once, not deferred)."""
    callback = await answered(fake, fd.message_menu(target))
    assert callback["type"] == 4
    assert callback["data"]["flags"] & 64
    return dict(callback["data"])


async def press_on(fake: FakeDiscord, custom_id: str, on: Json, locale: str = "en-US") -> Json:
    """Press the button `custom_id` on the message `on` in `locale`; the follow-up answer."""
    pressed = {**click(custom_id, on), "locale": locale}
    callback = await answered(fake, pressed)
    assert callback["type"] == 5  # thinking..., privately
    assert callback["data"]["flags"] & 64
    return await followup_of(fake, pressed)


async def test_the_menus_private_verdict_has_a_why_that_names_the_message(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """The menu's answer carries `dg:why:<channel>:<message>`; pressed after a restart, in
    French, it fetches that message again and explains its image privately in French."""
    picture_bytes = png_bytes(46)
    configured = bot_settings(settings, fake)
    target = fd.message(attachments=[fake.attachment("m.png", picture_bytes)])
    fake.messages[target["id"]] = target
    async with bot_running(fake, configured, detector, await answers_only()):
        answer = await menu_verdict(fake, target)
    fake.ready.clear()
    async with bot_running(fake, configured, detector, await answers_only()):
        followup = await press_on(fake, custom_ids(answer)[0], posted(answer), locale="fr")
    assert custom_ids(answer) == [f"dg:why:{fd.CHANNEL_ID}:{target['id']}"]
    assert answer["content"].endswith(replies.DISCLAIMER)
    fetched = fake.sent(f"/channels/{fd.CHANNEL_ID}/messages/{target['id']}", method="GET")
    assert len(fetched) == 1
    explained = await detector.explain(picture_bytes)
    french = Catalogs.load().words("fr")
    assert followup["flags"] & 64
    assert followup["content"] == explain_caption(french, explained)
    assert followup["content"] != explain_caption(ENGLISH, explained)
    (picture,) = followup["uploaded"]
    assert png_size(picture)[0] >= 360


async def test_the_menus_why_says_when_the_message_or_its_image_is_gone(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """A press after the checked message was deleted, or lost its image, gets the polite
    "original is gone" refusal."""
    target = fd.message(attachments=[fake.attachment("g.png", png_bytes(47))])
    fake.messages[target["id"]] = target
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        answer = await menu_verdict(fake, target)
        (why,) = custom_ids(answer)
        fake.messages[target["id"]] = {**target, "attachments": []}  # its image removed
        stripped = await press_on(fake, why, posted(answer))
        del fake.messages[target["id"]]  # the message deleted
        deleted = await press_on(fake, why, posted(answer))
    gone = replies.error_text(ENGLISH, OriginalGone())
    assert stripped["content"] == gone
    assert deleted["content"] == gone
    assert not stripped.get("uploaded")
    assert not deleted.get("uploaded")


async def test_a_forged_why_is_refused_as_expired(
    fake: FakeDiscord, settings: Settings, detector: Detector, caplog: pytest.LogCaptureFixture
) -> None:
    """Ids that are not two numbers, a message elsewhere (another server's channel, which the
    fake would serve) or in a channel the bot cannot read: "This button has expired.", with
    no traceback logged and the elsewhere message never fetched."""
    elsewhere = fd.message(attachments=[fake.attachment("x.png", png_bytes(48))])
    elsewhere["channel_id"] = snowflake()  # a channel of another server the bot is in
    fake.messages[elsewhere["id"]] = elsewhere
    hidden = snowflake()  # a channel the bot may not read, where the press happens
    secret = fd.message(attachments=[fake.attachment("s.png", png_bytes(49))], channel_id=hidden)
    fake.messages[secret["id"]] = secret
    fake.unreadable.add(hidden)
    here = posted({"content": "a verdict"})
    forged = [
        (f"dg:why:abc:{snowflake()}", here),
        (f"dg:why:{fd.CHANNEL_ID}", here),
        (f"dg:why:{fd.CHANNEL_ID}:{'9' * 30}", here),
        (f"dg:why:{elsewhere['channel_id']}:{elsewhere['id']}", here),
        (f"dg:why:{hidden}:{secret['id']}", posted({"content": "a verdict"}, channel_id=hidden)),
    ]
    async with bot_running(fake, bot_settings(settings, fake), detector, await answers_only()):
        answers = [await press_on(fake, data, on) for data, on in forged]
    assert [answer["content"] for answer in answers] == [BUTTON_EXPIRED] * len(forged)
    assert all(answer["flags"] & 64 for answer in answers)
    assert not any(answer.get("uploaded") for answer in answers)
    assert fake.sent(f"/channels/{elsewhere['channel_id']}/messages/.*", method="GET") == []
    assert len(fake.sent(f"/channels/{hidden}/messages/{secret['id']}", method="GET")) == 1
    assert [record for record in caplog.records if record.exc_info] == []


async def test_the_menus_why_is_throttled_like_a_check(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """The menu's check spends the asker's only token; their press is told they are throttled."""
    slow = settings.model_copy(update={"throttle": ThrottleSettings(burst=1, per_minute=0.01)})
    target = fd.message(attachments=[fake.attachment("t.png", png_bytes(50))])
    fake.messages[target["id"]] = target
    async with bot_running(fake, bot_settings(slow, fake), detector, await answers_only()):
        answer = await menu_verdict(fake, target)
        (why,) = custom_ids(answer)
        callback = await answered(fake, click(why, posted(answer)))
    assert callback["data"]["content"] == replies.THROTTLED
    assert callback["data"]["flags"] & 64
    assert fake.sent(f"/channels/{fd.CHANNEL_ID}/messages/.*", method="GET") == []
