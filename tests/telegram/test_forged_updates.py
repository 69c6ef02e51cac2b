"""Forged updates posted straight to the webhook: refused for want of the secret, data intact.

Whoever reaches the webhook port can post any update. Without the secret header Telegram adds,
the real PTB webhook server answers 403 and the update never reaches a handler; the same update
with the secret does what it says, which shows the forged ones would have done harm.
"""

from __future__ import annotations

import time

import pytest

from config import Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, FlagStatus, Mode, NewFlag
from tests.telegram.fake_telegram_mod import (
    ADMIN,
    GROUP,
    MEMBER,
    MODLOG,
    ModFake,
    isolated_mod_fake,
)
from tests.telegram.telegram_harness import (
    WEBHOOK_SECRET,
    post_update,
    running_bot,
    webhook_settings,
)
from tests.telegram.telegram_payloads import BOT_USER, Json, chat

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))
POLICY = ChatPolicy(
    mode=Mode.FLAG_ONLY,
    threshold=0.9,
    actions=frozenset({Action.REACT, Action.MODLOG, Action.DELETE}),
    modlog=str(MODLOG),
    explicit_mode=True,
)
ELSEWHERE = -1005550001111  # where a forged migration would move the group's data

fake = pytest.fixture(isolated_mod_fake)


async def seeded(store: SqlStore) -> Json:
    """The group's policy and one open flag; the flag's post in the mod-log, with its buttons."""
    await store.save_policy(KEY, POLICY)
    flag = await store.add_flag(
        NewFlag(KEY, str(GROUP), "10", str(MEMBER), "0" * 64, 0.95, POLICY.actions)
    )
    post = {
        "message_id": 500,
        "date": int(time.time()),
        "chat": chat(MODLOG),
        "from": BOT_USER,
        "text": f"🚩 Flag #{flag.id}",
    }
    await store.set_modlog_message(flag.id, f"{MODLOG}/500")
    return post


async def test_forged_updates_without_the_secret_are_refused_and_change_nothing(
    fake: ModFake, settings: Settings, detector: Detector, store: SqlStore
) -> None:
    """A forged "bot removed", an anonymous admin's /forget, a group migration and a Confirm
    press naming a real admin all get 403 and leave the chat's data as it was; the same
    removal and press carrying the secret take effect."""
    post = await seeded(store)
    hooked, url = webhook_settings(settings, fake)
    forged = [
        {"my_chat_member": fake.removal(GROUP, "left")},
        {"message": fake.anonymous_command("/forget")},
        {"message": fake.message(chat_id=GROUP, user_id=ADMIN, migrate_to_chat_id=ELSEWHERE)},
        {"callback_query": fake.button_press(post, "dg:ok:1", user_id=ADMIN)},
    ]
    async with running_bot(fake, hooked, detector, ready="setWebhook", store=store):
        statuses = [
            await post_update(url, {"update_id": n, **update}, secret)
            for n, update in enumerate(forged, 1)
            for secret in (None, "a-wrong-secret-of-32-characters-xx")
        ]
        stats = {"update_id": 20, "message": fake.group_command("/stats")}
        assert await post_update(url, stats, WEBHOOK_SECRET) == 200
        await fake.wait_posted(GROUP)  # the bot is handling updates: a forged one would be too
        untouched = await store.policy(KEY, private=False), await store.get_flag(1)
        moved = await store.policy(ChatKey("telegram", str(ELSEWHERE)), private=False)
        calls, posted = [call.method for call in fake.calls], list(fake.posted)

        press = {
            "update_id": 21,
            "callback_query": fake.button_press(post, "dg:ok:1", user_id=ADMIN),
        }
        assert await post_update(url, press, WEBHOOK_SECRET) == 200
        await fake.wait_for("deleteMessage")
        removal = {"update_id": 22, "my_chat_member": fake.removal(GROUP, "left")}
        assert await post_update(url, removal, WEBHOOK_SECRET) == 200
    assert statuses == [403] * 8
    policy, flag = untouched
    assert policy == POLICY
    assert flag is not None
    assert flag.status is FlagStatus.OPEN
    assert moved != POLICY
    assert not {"deletemessage", "answercallbackquery", "editmessagetext"} & set(calls)
    [stats_reply] = posted  # nothing but the answer to the genuine /stats
    assert stats_reply["text"].startswith("Last 7 days:")
    assert fake.sent("deleteMessage") == [{"chat_id": GROUP, "message_id": 10}]
    assert await store.get_flag(1) is None  # the genuine removal (drained by the stop)
    assert await store.policy(KEY, private=False) != POLICY
