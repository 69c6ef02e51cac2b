"""The Telegram bot while its moderation database is unreachable, and after it is back.

Real PTB client, fake Bot API, tiny model; the store is an in-memory one whose database can
go away (`OutageStore`), as `SqlStore` reports an unreachable database.
"""

from __future__ import annotations

import logging

import pytest

from bots import replies
from config import Settings
from core.detector import Detector
from core.moderation.types import ChatKey, ChatPolicy, Mode
from tests.core.memory_store import OutageStore
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram_mod import GROUP, MEMBER, ModFake, isolated_mod_fake
from tests.telegram.telegram_harness import bot_settings, running_bot

pytestmark = pytest.mark.slow

fake = pytest.fixture(isolated_mod_fake)
GROUP_KEY = ChatKey("telegram", str(GROUP))


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.levelname for r in caplog.records if "moderation database" in r.getMessage()]


async def test_an_outage_silences_groups_answers_the_rest_and_passes_by_itself(
    fake: ModFake, settings: Settings, detector: Detector, caplog: pytest.LogCaptureFixture
) -> None:
    """While the database is down a group's photo gets no reply (its policy is unknown), a
    private photo and /check in the group are answered, /settings says to try later, and the
    outage is logged once; once it is back, the group is answered again without a restart."""
    store = OutageStore(down=True)
    async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
        fake.push(fake.group_photo(image_bytes(1)))
        in_private, checked, configured = await fake.ask(
            fake.photo(image_bytes(2), chat_id=MEMBER, user_id=MEMBER),
            fake.group_command("/check", reply_to=fake.group_photo(image_bytes(3))),
            fake.group_command("/settings threshold 90%"),
        )
        during = outage_lines(caplog)
        store.down = False
        [after] = await fake.ask(fake.group_photo(image_bytes(4)))
    assert replies.DISCLAIMER in in_private
    assert replies.DISCLAIMER in checked
    assert configured == replies.STORE_UNAVAILABLE
    assert replies.DISCLAIMER in after
    texts = [message["text"] for message in fake.posted]
    assert replies.UNEXPECTED not in texts
    assert len(fake.posted_to(GROUP)) == 3  # the first photo got nothing
    assert during == ["ERROR"]
    assert outage_lines(caplog) == ["ERROR", "WARNING"]  # down once, back once
    assert not [r for r in caplog.records if r.exc_info is not None]
    assert store.flags == {}
    assert logging.ERROR not in [r.levelno for r in caplog.records if r.name != "bots.outage"]


async def test_a_removal_during_the_outage_deletes_the_chats_data_once_it_is_back(
    fake: ModFake, settings: Settings, detector: Detector
) -> None:
    """The bot is kicked from the group while the database is down: the group's data is
    deleted as soon as the database answers again (here: the next photo elsewhere)."""
    store = OutageStore()
    await store.save_policy(GROUP_KEY, ChatPolicy(mode=Mode.FLAG_ONLY))
    async with running_bot(fake, bot_settings(settings, fake), detector, store=store):
        store.down = True
        removal = fake.bot_removed(GROUP, "kicked")
        await fake.wait_until(lambda: removal not in fake.unconfirmed)
        assert GROUP_KEY in store.policies  # not deleted yet: the database is down
        store.down = False
        await fake.ask(fake.photo(image_bytes(5), chat_id=MEMBER, user_id=MEMBER))
    assert GROUP_KEY not in store.policies
