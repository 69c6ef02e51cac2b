"""The Discord bot end to end: the real discord.py client against a fake Discord on loopback.

These are the happy paths and inputs of posted messages (the commands are in
test_discord_commands), judged by the real Detector with the tiny random model; the bot is
started through `discord_client.run`, exactly as `deepguard run` starts it.
"""

from __future__ import annotations

import pytest

from bots import replies
from bots.discord.links import LinkRefused, LinkUnavailable
from bots.i18n import english
from config import Settings
from core.detector import Detector
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    bot_running,
    bot_settings,
    post,
    reply_to,
    served_bot,
    served_fake,
    serving,
)
from tests.discord.fake_discord import FakeDiscord
from tests.fakes import png_bytes
from tests.judges import PERCENT, expected
from tests.sample_images import png_header_bomb
from tests.sentinel import sentinel

ENGLISH = english()

pytestmark = pytest.mark.slow


fake = pytest.fixture(served_fake)
bot = pytest.fixture(served_bot)


async def test_attachment_gets_one_reply_with_a_percentage(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """An image attachment is answered with the shared wording, as a reply that pings nobody."""
    image = png_bytes(10)
    message = await post(fake, attachments=[fake.attachment("cat.png", image)])
    [reply] = await reply_to(fake, message)
    assert PERCENT.search(reply["content"])
    assert reply["content"] == await expected(detector, bot, image)
    assert reply["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert reply["message_reference"]["fail_if_not_exists"] is False


async def test_three_attachments_get_one_reply_with_three_verdicts(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """Several images in one message are answered in a single reply, one line each."""
    images = [png_bytes(red) for red in (20, 120, 220)]
    attachments = [fake.attachment(f"{i}.png", image) for i, image in enumerate(images)]
    message = await post(fake, attachments=attachments)
    [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, bot, *images)
    assert len(PERCENT.findall(reply["content"])) == 3


async def test_previewed_link_is_checked_through_discords_copy(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """An embed's image is fetched from Discord's proxy copy, not from the original site."""
    image = png_bytes(40)
    proxy = fake.file("external/cat.png", image)
    original = "https://art.example/cat.png"
    embed = {"type": "image", "url": original, "thumbnail": {"url": original, "proxy_url": proxy}}
    message = await post(fake, embeds=[embed])
    [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, bot, image)


async def test_edit_adding_an_image_answers_only_the_new_image(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """A link preview or an attachment added by an edit is answered; old images are not again."""
    first, second = png_bytes(50), png_bytes(60)
    message = await post(fake)
    link = fake.file("late/one.png", first)
    embed = {"type": "image", "url": link, "thumbnail": {"url": link}}
    await post(fake, "MESSAGE_UPDATE", message_id=message["id"], embeds=[embed])
    [reply] = await reply_to(fake, message)
    added = fake.attachment("two.png", second)
    await post(
        fake, "MESSAGE_UPDATE", message_id=message["id"], embeds=[embed], attachments=[added]
    )
    later = await reply_to(fake, message, count=2)
    assert reply["content"] == await expected(detector, bot, first)
    assert later[1]["content"] == await expected(detector, bot, second)


async def test_png_sticker_is_checked_and_lottie_ignored(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """PNG and APNG stickers are images; Lottie (vector JSON) stickers are not."""
    image, sticker, lottie = png_bytes(70), fd.snowflake(), fd.snowflake()
    fake.file(f"stickers/{sticker}.png", image)
    stickers = [
        {"id": sticker, "name": "wave", "format_type": 1},
        {"id": lottie, "name": "dance", "format_type": 3},
    ]
    message = await post(fake, stickers=stickers)
    [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, bot, image)


async def test_attachments_count_by_their_bytes(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """An unlabelled image is checked; unlabelled non-images and text files are left alone."""
    image = png_bytes(80)
    attachments = [
        fake.attachment("notes.txt", b"just text", "text/plain"),
        fake.attachment("blob", b"not an image at all", None),
        fake.attachment("photo", image, None),
    ]
    message = await post(fake, attachments=attachments)
    [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, bot, image)
    assert not any(r.path.endswith("notes.txt") for r in fake.requests)


async def test_messages_from_bots_are_ignored(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """The bot answers people only: not itself and not other bots."""
    other_bot = {**fd.HUMAN, "id": fd.snowflake(), "username": "helper", "bot": True}
    async with bot_running(fake, bot_settings(settings, fake), detector):
        for author in (fd.BOT, other_bot):
            await post(fake, author=author, attachments=[fake.attachment("x.png", png_bytes(1))])
        marker = await post(fake, attachments=[fake.attachment("y.png", png_bytes(2))])
        await reply_to(fake, marker)
    assert len(fake.replies(fd.CHANNEL_ID)) == 1


async def test_corrupt_and_bomb_images_are_refused_and_the_next_is_answered(
    fake: FakeDiscord, bot: Settings, detector: Detector
) -> None:
    """Bad files get the polite refusals Telegram gives, and the bot keeps serving."""
    corrupt = png_bytes(90)[:40]
    bomb = png_header_bomb()
    attachments = [fake.attachment("bad.png", corrupt), fake.attachment("bomb.png", bomb)]
    message = await post(fake, attachments=attachments)
    [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, bot, corrupt, bomb)
    assert not PERCENT.search(reply["content"])
    good = png_bytes(91)
    after = await post(fake, attachments=[fake.attachment("ok.png", good)])
    [answer] = await reply_to(fake, after)
    assert answer["content"] == await expected(detector, bot, good)


async def test_expired_cdn_link_gets_one_graceful_answer(fake: FakeDiscord, bot: Settings) -> None:
    """An attachment whose signed CDN link expired (404) is answered once, politely."""
    attachment = fake.attachment("old.png", png_bytes(95))
    fake.files.clear()
    message = await post(fake, attachments=[attachment])
    [reply] = await reply_to(fake, message)
    assert reply["content"] == replies.error_text(ENGLISH, LinkUnavailable())


async def test_link_to_a_private_address_is_refused_without_a_request(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """A listed name that resolves to loopback, and an unlisted host, are never contacted."""
    async with sentinel() as listener:
        port = listener.port
        links = [f"https://localhost:{port}/inside.png", f"https://evil.example:{port}/x.png"]
        embeds = [{"type": "image", "url": link, "thumbnail": {"url": link}} for link in links]
        async with serving(monkeypatch) as fake:
            production_guard = bot_settings(
                settings,
                fake,
                link_hosts=["localhost"],
                allow_http=False,
                allow_private_addresses=False,
            )
            async with bot_running(fake, production_guard, detector):
                message = await post(fake, embeds=embeds)
                [reply] = await reply_to(fake, message)
    assert reply["content"] == replies.outcomes_text(
        ENGLISH, [LinkRefused(), LinkRefused()], settings.replies
    )
    assert listener.connections == []
