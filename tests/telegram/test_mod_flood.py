"""A flood of images in a moderated Telegram group is slowed down, never let through unscanned:
the real PTB client against the fake Bot API, the tiny model and the real store. Threshold 0.0
flags every image, so each scanned image shows as a marker reaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots import replies
from config import Settings, ThrottleSettings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, Mode
from tests.discord.discord_mod_harness import until
from tests.judges import DROPPED, dropped
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram_mod import GROUP, MEMBER, MODLOG, ModFake, isolated_mod_fake
from tests.telegram.telegram_harness import bot_settings, running_bot
from tests.telegram.telegram_payloads import Json, chat

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))
FLAG_ONLY = ChatPolicy(
    mode=Mode.FLAG_ONLY, threshold=0.0, actions=frozenset({Action.REACT}), modlog=str(MODLOG)
)
fake = pytest.fixture(isolated_mod_fake)


def throttled(settings: Settings, fake: ModFake, **throttle: float) -> Settings:
    """The bot's settings with a throttle of its own and a short stop grace."""
    limits = ThrottleSettings.model_validate(throttle)
    return bot_settings(settings.model_copy(update={"throttle": limits}), fake, stop_grace_s=0.5)


async def test_a_flood_in_a_flag_only_group_is_all_scanned(
    fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
) -> None:
    """Six photos against a burst of two: all six are flagged, and the user is told nothing."""
    await store.save_policy(KEY, FLAG_ONLY)
    fast = throttled(settings, fake, burst=2, per_minute=1200.0)  # a token every 50 ms
    async with running_bot(fake, fast, detector, store=store):
        photos = [fake.group_photo(image_bytes(400 + n)) for n in range(6)]
        for photo in photos:
            fake.push(photo)
        reactions = await fake.wait_for("setMessageReaction", 6)
    assert sorted(r["message_id"] for r in reactions) == sorted(p["message_id"] for p in photos)
    assert fake.posted_to(GROUP) == []
    stats = await store.stats(KEY, datetime(2000, 1, 1, tzinfo=UTC))
    assert (stats.scanned, stats.flagged) == (6, 6)


async def test_past_the_waiting_limit_images_drop_and_a_stop_does_not_hang(
    fake: ModFake,
    settings: Settings,
    detector: Detector,
    store: SqlStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Burst 1, one may wait: of three photos one is flagged, one waits and one drops, logged;
    the stop cancels the waiting one instead of waiting for a token that is minutes away."""
    await store.save_policy(KEY, FLAG_ONLY)
    slow = throttled(settings, fake, burst=1, per_minute=0.01, max_deferred=1)
    async with running_bot(fake, slow, detector, store=store):
        for n in range(3):
            fake.push(fake.group_photo(image_bytes(410 + n)))
        await fake.wait_for("setMessageReaction")
        await until(lambda: dropped(caplog))
    assert len(fake.sent("setMessageReaction")) == 1
    assert fake.posted_to(GROUP) == []
    assert [r.levelname for r in caplog.records if DROPPED in r.message] == ["WARNING"]


async def test_a_private_flood_is_still_refused_with_one_notice(
    fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
) -> None:
    """In a private chat the images past the burst are refused, and the user told once."""
    slow = throttled(settings, fake, burst=2, per_minute=0.01)
    async with running_bot(fake, slow, detector, store=store):
        for n in range(5):
            fake.push(fake.photo(image_bytes(420 + n), chat_id=MEMBER, user_id=MEMBER))
        await fake.wait_posted(MEMBER, 3)
        await fake.wait_for("getUpdates", len(fake.sent("getUpdates")) + 2)  # all were taken up
    texts = [message["text"] for message in fake.posted_to(MEMBER)]
    assert texts.count(replies.THROTTLED) == 1
    assert len(texts) == 3


OTHER_GROUP = -1001111111111
ANSWER_ONLY = ChatPolicy(mode=Mode.REPLY_ALL, actions=frozenset())  # refuses, never waits


def channel(chat_id: int) -> Json:
    return {"id": chat_id, "type": "channel", "title": f"Channel {chat_id}"}


@pytest.mark.parametrize(
    ("placeholder", "speakers"),
    [
        # GroupAnonymousBot: an anonymous admin speaks as the group itself.
        (1087968824, (chat(GROUP), chat(OTHER_GROUP))),
        # Channel_Bot: members posting as one of their channels.
        (136817688, (channel(-1002220001), channel(-1002220002))),
        # Telegram: posts of each group's linked channel, forwarded into it.
        (777000, (channel(-1002220003), channel(-1002220004))),
    ],
)
async def test_posters_speaking_as_a_chat_are_throttled_by_that_chat(
    fake: ModFake,
    settings: Settings,
    detector: Detector,
    store: SqlStore,
    placeholder: int,
    speakers: tuple[Json, Json],
) -> None:
    """Telegram puts one placeholder user in `from` for all of them; the sender_chat is who
    spends the tokens, so another group's poster is answered and the same poster throttled."""
    for group in (GROUP, OTHER_GROUP):
        await store.save_policy(ChatKey("telegram", str(group)), ANSWER_ONLY)
    slow = throttled(settings, fake, burst=1, per_minute=0.01)
    posts = [(GROUP, speakers[0]), (OTHER_GROUP, speakers[1]), (GROUP, speakers[0])]
    async with running_bot(fake, slow, detector, store=store):
        first, other, again = await fake.ask(
            *[
                fake.photo(
                    image_bytes(430 + n), chat_id=group, user_id=placeholder, sender_chat=who
                )
                for n, (group, who) in enumerate(posts)
            ]
        )
    assert replies.DISCLAIMER in first
    assert replies.DISCLAIMER in other  # not the first poster's bucket
    assert again == replies.THROTTLED  # the first poster's own bucket is empty
