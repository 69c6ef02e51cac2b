"""Telegram moderation end to end, part four: a group's own reply bands, and a group upgraded
to a supergroup keeping its data.

Real PTB client, fake Bot API, tiny model, SQLite store. Bands at 0.0 or 1.0 make the wording
independent of what the random model says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from bots import moderation_replies
from bots.i18n import english
from bots.run import open_store
from config import ReplySettings, Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode, NewFlag
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram_mod import ADMIN, GROUP, MODLOG, ModFake, isolated_mod_fake
from tests.telegram.telegram_harness import bot_settings, running_bot
from tests.telegram.telegram_payloads import ALICE, Json

ENGLISH = english()

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))
BASIC = -4001  # a basic group, before Telegram upgrades it to the supergroup GROUP
BASIC_KEY = ChatKey("telegram", str(BASIC))
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


fake = pytest.fixture(isolated_mod_fake)


def with_bands(settings: Settings, likely_fake_from: float, likely_real_below: float) -> Settings:
    """`settings` with the operator's reply bands changed."""
    bands = ReplySettings(likely_fake_from=likely_fake_from, likely_real_below=likely_real_below)
    return settings.model_copy(update={"replies": bands})


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll the store (the bot makes no Bot API call to wait for)."""
    async with asyncio.timeout(10):
        while not await check():  # noqa: ASYNC110 - the store offers no event
            await asyncio.sleep(0.02)


class TestBands:
    async def test_each_group_words_verdicts_with_its_own_bands(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A group whose bands are at 100% hears "likely real"; one at 0% "likely AI-generated"."""
        modest = ChatPolicy(threshold=1.0, uncertain_from=1.0)
        await store.save_policy(KEY, modest)
        await store.save_policy(ChatKey("telegram", str(MODLOG)), ChatPolicy(threshold=0.0))
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(1)))
            fake.push(fake.photo(image_bytes(1), chat_id=MODLOG, user_id=ADMIN))
            [real] = await fake.wait_posted(GROUP)
            [fake_] = await fake.wait_posted(MODLOG)
            await fake.wait_for("setMessageReaction")  # flagged at 0%: marked
        assert real["text"].startswith("📷 Likely real (")
        assert fake_["text"].startswith("🤖 Likely AI-generated (")
        assert [r["chat_id"] for r in fake.sent("setMessageReaction")] == [MODLOG]

    async def test_a_new_chat_follows_the_operators_reply_settings(
        self, fake: ModFake, settings: Settings, detector: Detector, store_url: str
    ) -> None:
        """With global bands at 0%, a new group and a private chat both hear "likely AI"."""
        everything = with_bands(settings, 0.0, 0.0)
        async with open_store(everything, store_url) as store:
            async with running_bot(fake, bot_settings(everything, fake), detector, store=store):
                fake.push(fake.group_photo(image_bytes(2)))
                fake.push(fake.photo(image_bytes(3)))  # Alice's private chat
                [group] = await fake.wait_posted(GROUP)
                [private] = await fake.wait_posted(ALICE)
                [marker] = await fake.wait_for("setMessageReaction")
            policy = await store.policy(KEY, private=False)
        assert group["text"].startswith("🤖 Likely AI-generated (")
        assert private["text"].startswith("🤖 Likely AI-generated (")
        assert marker["chat_id"] == GROUP  # the flag threshold followed too; never in private
        assert (policy.threshold, policy.uncertain_from, policy.mode) == (0.0, 0.0, Mode.REPLY_ALL)

    async def test_uncertain_command_is_checked_against_the_threshold(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """`/settings uncertain` above the threshold is refused; a lower threshold brings it down."""
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            saved, too_high, lowered = await fake.ask(
                fake.group_command("/settings uncertain 0.5"),
                fake.group_command("/settings uncertain 90%"),
                fake.group_command("/settings threshold 0.4"),
            )
        assert "• uncertain from: 50% (below it: likely real)" in saved
        assert "• flag at or above: 70% probability of AI" in saved
        assert too_high == moderation_replies.bands_refused(ENGLISH, 0.7, 0.9)
        assert "• uncertain from: 40% (below it: likely real)" in lowered
        policy = await store.policy(KEY, private=False)
        assert (policy.threshold, policy.uncertain_from) == (0.4, 0.4)


def basic_group() -> Json:
    return {"id": BASIC, "type": "group", "title": "Test group"}


class TestUpgrade:
    async def test_an_upgraded_group_keeps_its_settings_flags_and_counts(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """After the upgrade the supergroup is moderated by the old policy and reviews old flags."""
        old = ChatPolicy(
            mode=Mode.FLAG_ONLY,
            threshold=0.0,
            modlog=str(MODLOG),
            disabled=frozenset({(str(BASIC), Action.DELETE)}),
        )
        await store.save_policy(BASIC_KEY, old)
        await store.count_scanned(BASIC_KEY, 3)
        flag = await store.add_flag(
            NewFlag(BASIC_KEY, str(BASIC), "7", str(ALICE), "ab" * 32, 0.9, frozenset())
        )
        post = fake.message(chat_id=MODLOG, user_id=ADMIN, text="🚩 Flag #1")
        await store.set_modlog_message(flag.id, f"{MODLOG}/{post['message_id']}")
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.message(chat=basic_group(), user_id=ADMIN, migrate_to_chat_id=GROUP))
            fake.push(fake.message(chat_id=GROUP, user_id=ADMIN, migrate_from_chat_id=BASIC))
            await until(lambda: _moved(store))
            fake.push(fake.group_photo(image_bytes(4)))
            [notice] = await fake.wait_posted(MODLOG)
            fake.press(post, f"dg:ok:{flag.id}", user_id=ADMIN)
            [deleted] = await fake.wait_for("deleteMessage")
        assert "Flag #2" in notice["text"]
        assert deleted == {"chat_id": BASIC, "message_id": 7}  # where the old message is
        policy = await store.policy(KEY, private=False)
        assert policy.disabled == {(str(GROUP), Action.DELETE)}
        assert policy.mode is Mode.FLAG_ONLY
        stats = await store.stats(KEY, _LONG_AGO)
        assert (stats.scanned, stats.flagged, stats.confirmed) == (4, 2, 1)

    async def test_a_modlog_group_upgraded_to_a_supergroup_is_followed(
        self, fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
    ) -> None:
        """A mod-log post refused as "upgraded" goes to the new id, which the policy keeps."""
        policy = ChatPolicy(mode=Mode.FLAG_ONLY, threshold=0.0, modlog=str(BASIC))
        await store.save_policy(KEY, policy)
        fake.migrated("sendMessage", MODLOG)
        async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
            fake.push(fake.group_photo(image_bytes(5)))
            [post] = await fake.wait_posted(MODLOG)
        assert post["text"].startswith("🚩 Flag #1")
        assert (await store.policy(KEY, private=False)).modlog == str(MODLOG)
        flag = await store.get_flag(1)
        assert flag is not None
        assert flag.modlog_message == f"{MODLOG}/{post['message_id']}"


async def _moved(store: SqlStore) -> bool:
    policy = await store.policy(KEY, private=False)
    return policy.mode is Mode.FLAG_ONLY and (str(GROUP), Action.DELETE) in policy.disabled
