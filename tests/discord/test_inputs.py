"""Which images of a Discord message are fetched, from where, how many, and until when.

The real discord.py client runs through `discord_client.run` against the fake Discord. Discord's
own hosts (its CDN and its image proxies) are answered on loopback by a table resolver, so the
bot runs with the link hosts it has in production.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import discord.utils
import pytest
import sqlalchemy as sa

from bots import replies
from bots.i18n import english
from config import DiscordSettings, Settings
from core.detector import Detector
from core.moderation import schema
from core.moderation.store import SqlStore
from core.moderation.types import Mode, ModerationStore
from tests.bots.pipeline_fakes import ScriptedJudge
from tests.core import test_store as base
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    bot_running,
    bot_settings,
    callback_of,
    post,
    reply_to,
    served_fake,
)
from tests.discord.discord_harness import image as image_of
from tests.discord.discord_mod_harness import GUILD, policy
from tests.discord.discord_payloads import Json, message, message_menu, snowflake
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_dns import FakeResolver
from tests.fakes import png_bytes
from tests.judges import expected

ENGLISH = english()

pytestmark = pytest.mark.slow

PROXIES = ("images-ext-1.discordapp.net", "images-ext-2.discordapp.net")

fake = pytest.fixture(served_fake)
# The database fixture of tests/core/test_store.py: SQLite, and PostgreSQL when configured.
db_url = base.db_url


def production_hosts(settings: Settings, fake: FakeDiscord) -> Settings:
    """The default link hosts, over plain http to the fake (which the resolver puts on loopback)."""
    return bot_settings(settings, fake, link_hosts=DiscordSettings().link_hosts)


def discord_dns() -> FakeResolver:
    return FakeResolver(dict.fromkeys(PROXIES, "127.0.0.1"))


@pytest.mark.parametrize("proxy", PROXIES)
async def test_an_external_image_is_fetched_through_discords_image_proxy(
    fake: FakeDiscord, settings: Settings, detector: Detector, proxy: str
) -> None:
    """A previewed external image is fetched from Discord's images-ext proxy, by default."""
    image = png_bytes(41)
    fake.file("external/abc/https/art.example/cat.png", image)
    copy = f"http://{proxy}:{fake.port}/cdn/external/abc/https/art.example/cat.png"
    original = "https://art.example/cat.png"
    embed = {"type": "image", "url": original, "thumbnail": {"url": original, "proxy_url": copy}}
    configured = production_hosts(settings, fake)
    async with bot_running(fake, configured, detector, resolver=discord_dns()):
        message = await post(fake, embeds=[embed])
        [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, configured, image)


async def test_an_attachment_is_fetched_by_its_url_never_its_proxy_url(
    fake: FakeDiscord, settings: Settings, detector: Detector
) -> None:
    """The original bytes are judged; the proxy's copy (maybe re-encoded) is never asked for."""
    original, converted = png_bytes(42), png_bytes(43)
    attachment = fake.attachment("art.png", original)
    attachment["proxy_url"] = fake.file(f"proxied/{snowflake()}/art.webp", converted)
    configured = bot_settings(settings, fake)
    async with bot_running(fake, configured, detector):
        message = await post(fake, attachments=[attachment])
        [reply] = await reply_to(fake, message)
    assert reply["content"] == await expected(detector, configured, original)
    assert not [r for r in fake.requests if r.path.startswith("/cdn/proxied/")]


async def test_a_preview_with_a_long_url_is_answered_once_keyed_by_its_sha256(
    fake: FakeDiscord, settings: Settings, detector: Detector, db_url: str
) -> None:
    """A 5 KB link (past PostgreSQL's index limit) is judged, keyed by its SHA-256, and an edit
    of the message does not judge it again."""
    image = png_bytes(44)
    noise = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(80))
    link = fake.file(f"external/{noise}/cat.png", image)
    embed = {"type": "image", "url": link, "thumbnail": {"url": link}}
    configured = bot_settings(settings, fake)
    async with SqlStore.open(db_url) as store, bot_running(fake, configured, detector, store):
        message = await post(fake, embeds=[embed])
        [reply] = await reply_to(fake, message)
        await fake.dispatch("MESSAGE_UPDATE", {**message, "content": "edited"})
        marker = await post(fake, **image_of(fake, 45))
        await reply_to(fake, marker)
    assert reply["content"] == await expected(detector, configured, image)
    assert len(await reply_to(fake, message)) == 1
    digest = hashlib.sha256(link.encode()).hexdigest()
    assert f"{message['id']}:link:{digest}" in await claimed(db_url)


async def claimed(url: str) -> list[str]:
    """The processed-message keys the store holds."""
    engine = schema.open_engine(url)
    try:
        async with engine.connect() as conn:
            return list(await conn.scalars(sa.select(schema.processed_messages.c.message)))
    finally:
        await engine.dispose()


async def test_a_fake_after_four_harmless_images_is_flagged_where_moderators_count_on_it(
    fake: FakeDiscord, settings: Settings, store: ModerationStore
) -> None:
    """In a flag-only server every image of a message is scanned: the fifth, a fake, is flagged."""
    harmless = [png_bytes(seed) for seed in range(60, 64)]
    fake_one = png_bytes(64)
    judge = ScriptedJudge({fake_one: 0.95, **dict.fromkeys(harmless, 0.05)})
    await store.save_policy(GUILD, policy(threshold=0.7))
    attachments = [fake.attachment(f"{i}.png", data) for i, data in enumerate(harmless)]
    attachments.append(fake.attachment("late.png", fake_one))
    async with bot_running(fake, bot_settings(settings, fake), judge, store):
        message = await post(fake, attachments=attachments)
        await fake.wait_for(lambda: fake.sent(_marker(message), "PUT"))
    assert sorted(judge.judged) == sorted([*harmless, fake_one])
    flag = await store.get_flag(1)
    assert flag is not None
    assert flag.flag.sha256 == hashlib.sha256(fake_one).hexdigest()
    assert fake.replies(fd.CHANNEL_ID) == []  # flag-only: no public answer


async def test_where_nothing_can_be_flagged_files_that_are_no_images_do_not_use_up_the_cap(
    fake: FakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """With nothing to flag, the first `max_images_per_message` images are answered, and an
    unlabelled file that is no image does not take one of their places."""
    await store.save_policy(GUILD, policy(mode=Mode.REPLY_ALL, actions=frozenset()))
    images = [png_bytes(red) for red in range(30, 36)]
    attachments = [fake.attachment("blob", b"not an image at all", None)]
    attachments += [fake.attachment(f"{i}.png", data) for i, data in enumerate(images)]
    configured = bot_settings(settings, fake)
    async with bot_running(fake, configured, detector, store):
        message = await post(fake, attachments=attachments)
        [reply] = await reply_to(fake, message)
    limit = configured.discord.max_images_per_message
    assert reply["content"] == await expected(detector, configured, *images[:limit])


async def test_a_message_older_than_the_retention_is_never_flagged_again(
    fake: FakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """Pinned or edited after its record was purged, an old message is not scanned; checked
    from its menu it is answered privately but not flagged. A recent edit still is."""
    await store.save_policy(GUILD, policy())  # every image is flagged
    days = settings.moderation.retention_days + 1
    posted_at = datetime.now(UTC) - timedelta(days=days)
    old = message(message_id=str(discord.utils.time_snowflake(posted_at)), **image_of(fake, 70))
    asked = message_menu(old)
    async with bot_running(fake, bot_settings(settings, fake), detector, store):
        await fake.dispatch("MESSAGE_UPDATE", {**old, "pinned": True})
        await fake.dispatch("MESSAGE_UPDATE", {**old, "content": "edited"})
        await fake.dispatch("INTERACTION_CREATE", asked)
        answer = await callback_of(fake, asked)
        recent = await post(fake, "MESSAGE_UPDATE", **image_of(fake, 71))
        await fake.wait_for(lambda: fake.sent(_marker(recent), "PUT"))
    assert "probability of AI" in answer["data"]["content"]
    assert fake.sent(_marker(old), "PUT") == []
    flag = await store.get_flag(1)
    assert flag is not None
    assert flag.flag.message == recent["id"]
    assert await store.get_flag(2) is None


def _marker(message: Json) -> str:
    return f"/channels/{message['channel_id']}/messages/{message['id']}/reactions/.+/@me"


async def test_a_reply_about_many_images_fits_in_one_discord_message(
    fake: FakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """Twenty images, each with a long refusal, are answered in at most 2000 characters."""
    await store.save_policy(GUILD, policy(mode=Mode.REPLY_ALL))  # every image is scanned
    attachments = [fake.attachment(f"{i}.png", png_bytes(i)) for i in range(10)]
    links = [fake.file(f"gone/{i}.png", png_bytes(i)) for i in range(10)]
    embeds = [{"type": "image", "url": link, "thumbnail": {"url": link}} for link in links]
    fake.files.clear()  # every link has expired
    async with bot_running(fake, bot_settings(settings, fake), detector, store):
        message = await post(fake, attachments=attachments, embeds=embeds)
        [reply] = await reply_to(fake, message)
    assert len(reply["content"]) <= 2000
    assert reply["content"].startswith("Image 1: ")
    assert reply["content"].endswith(
        replies.cut_short(ENGLISH, 20 - reply["content"].count("Image "))
    )
