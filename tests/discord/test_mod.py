"""Discord moderation end to end: a server's policy decides, and each action reaches Discord.

The real discord.py client runs through `discord_client.run` against the fake Discord, with the
tiny random model and the real SQLite store. Thresholds of 0.0 and 1.0 make the outcome
independent of what the random model says.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from bots.explain_replies import WHY_DATA
from bots.i18n import english
from bots.moderation_replies import MARKER_EMOJI, TIMEOUT_REASON, permission_missing
from config import Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, FlagStatus, Mode, ModerationStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import callback_of, image, post, reply_to
from tests.discord.discord_mod_harness import (
    GUILD,
    moderating,
    policy,
    reactions,
    served_mod_fake,
    until,
)
from tests.discord.discord_payloads import message as message_payload
from tests.discord.discord_payloads import message_menu
from tests.discord.fake_discord_mod import (
    DM_ID,
    MODLOG_ID,
    OTHER_HUMAN,
    ROLE_ID,
    ModFakeDiscord,
    custom_ids,
    role_create,
    with_role,
)

ENGLISH = english()

pytestmark = pytest.mark.slow

CHANNEL, OTHER = fd.CHANNEL_ID, fd.OTHER_CHANNEL_ID


fake = pytest.fixture(served_mod_fake)


async def flags_of(store: ModerationStore, count: int) -> list[int]:
    """Wait until `count` flags exist (ids start at 1) and return their ids."""

    async def found() -> list[int]:
        ids = [i for i in range(1, count + 1) if await store.get_flag(i) is not None]
        return ids if len(ids) == count else []

    return await until(found)


async def test_flag_only_is_silent_below_the_threshold(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """In flag-only mode an image below the threshold is scanned but gets no reply and no flag."""
    await store.save_policy(GUILD, policy(threshold=1.0))
    async with moderating(fake, settings, detector, store):
        message = await post(fake, **image(fake, 1))
        await until(lambda: _scanned(store, 1))
    assert fake.replies(CHANNEL) == []
    assert reactions(fake, message) == []
    assert fake.bodies(f"/channels/{MODLOG_ID}/messages") == []
    assert await store.get_flag(1) is None


async def _scanned(store: ModerationStore, count: int) -> bool:
    stats = await store.stats(GUILD, datetime.now(UTC) - timedelta(days=1))
    return stats.scanned >= count


async def test_a_flag_reacts_and_posts_to_the_modlog_with_review_buttons(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """At the threshold the message gets the marker and the mod-log a post with a jump link."""
    await store.save_policy(GUILD, policy())
    async with moderating(fake, settings, detector, store):
        message = await post(fake, **image(fake, 2))
        await fake.wait_for(lambda: fake.bodies(f"/channels/{MODLOG_ID}/messages"))
        (flag_id,) = await flags_of(store, 1)
    (notice,) = fake.bodies(f"/channels/{MODLOG_ID}/messages")
    assert reactions(fake, message) == [MARKER_EMOJI]
    assert f"<@{fd.HUMAN['id']}>" in notice["content"]
    assert f"/channels/{fd.GUILD_ID}/{CHANNEL}/{message['id']}" in notice["content"]
    assert custom_ids(notice) == [f"deepguard:confirm:{flag_id}", f"deepguard:dismiss:{flag_id}"]
    assert fake.replies(CHANNEL) == []  # flag-only: no public answer
    flag = await store.get_flag(flag_id)
    assert flag is not None
    assert flag.status is FlagStatus.OPEN
    assert flag.modlog_message is not None
    assert flag.flag.author == fd.HUMAN["id"]


async def test_warn_delete_and_timeout_reach_their_endpoints(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """Warn replies with a report button, delete removes the message, time-out edits the member."""
    actions = frozenset({Action.WARN, Action.DELETE, Action.TIMEOUT})
    await store.save_policy(GUILD, policy(actions=actions, timeout_minutes=5))
    async with moderating(fake, settings, detector, store):
        message = await post(fake, **image(fake, 3))
        (warning,) = await reply_to(fake, message)
        members = f"/guilds/{fd.GUILD_ID}/members/{fd.HUMAN['id']}"
        await fake.wait_for(
            lambda: fake.sent(f"/channels/{CHANNEL}/messages/{message['id']}", "DELETE")
        )
        (timeout,) = fake.bodies(members, "PATCH")
        [request] = fake.sent(members, "PATCH")
    assert custom_ids(warning) == ["deepguard:report:1"]
    reason = request.headers["X-Audit-Log-Reason"]
    assert urllib.parse.unquote(reason) == ENGLISH.gettext(TIMEOUT_REASON)
    assert "AI-generated" in warning["content"]
    assert timeout["communication_disabled_until"]
    assert reactions(fake, message) == []


async def test_reply_all_answers_and_a_flag_adds_the_report_button(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """In reply-all mode the verdict reply is the warning: it carries the report button.

    And, as every verdict reply, the "Why?" button (tests/discord/test_why.py).
    """
    await store.save_policy(
        GUILD, policy(mode=Mode.REPLY_ALL, actions=frozenset({Action.WARN, Action.MODLOG}))
    )
    async with moderating(fake, settings, detector, store):
        message = await post(fake, **image(fake, 4))
        (reply,) = await reply_to(fake, message)
        await fake.wait_for(lambda: fake.bodies(f"/channels/{MODLOG_ID}/messages"))
    assert "probability of AI" in reply["content"]
    assert custom_ids(reply) == ["deepguard:report:1", WHY_DATA]
    assert len(await reply_to(fake, message)) == 1  # no second warning


async def test_exempt_channel_role_and_user_are_not_flagged(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """Images in an exempt channel, by an exempt role or by an exempt user are left alone."""
    exempt = policy(
        exempt_channels=frozenset({OTHER}),
        exempt_roles=frozenset({ROLE_ID}),
        exempt_users=frozenset({OTHER_HUMAN["id"]}),
    )
    await store.save_policy(GUILD, exempt)
    async with moderating(fake, settings, detector, store):
        await fake.dispatch("GUILD_ROLE_CREATE", role_create())
        skipped = [
            await post(fake, **image(fake, 5, channel_id=OTHER)),
            await post(fake, **image(fake, 6, author=OTHER_HUMAN)),
        ]
        by_role = with_role(message_payload(**image(fake, 7)), ROLE_ID)
        await fake.dispatch("MESSAGE_CREATE", by_role)
        flagged = await post(fake, **image(fake, 8))
        await fake.wait_for(lambda: reactions(fake, flagged))
    for message in [*skipped, by_role]:
        assert reactions(fake, message) == []
    assert len(fake.bodies(f"/channels/{MODLOG_ID}/messages")) == 1
    assert await store.get_flag(2) is None


async def test_new_members_only_skips_members_who_joined_long_ago(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """With new-members scanning, a member who joined years ago is skipped, a newcomer flagged."""
    await store.save_policy(GUILD, policy(new_members_days=30))
    async with moderating(fake, settings, detector, store):
        old = await post(fake, **image(fake, 20))  # the fake's members joined in 2024
        joined = datetime.now(UTC).isoformat()
        newcomer = message_payload(**image(fake, 21))
        newcomer["member"] = {**newcomer["member"], "joined_at": joined}
        await fake.dispatch("MESSAGE_CREATE", newcomer)
        await fake.wait_for(lambda: reactions(fake, newcomer))
    assert reactions(fake, old) == []
    assert len(fake.bodies(f"/channels/{MODLOG_ID}/messages")) == 1


async def test_a_refused_action_is_switched_off_for_the_channel_and_told_once(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """A 403 on the reaction switches reacting off in that channel and tells the mod-log once."""
    await store.save_policy(GUILD, policy())
    fake.fail(
        "PUT",
        f"/channels/{CHANNEL}/messages/\\d+/reactions/.+/@me",
        403,
        body={"message": "Missing Permissions", "code": 50013},
        times=5,
    )
    async with moderating(fake, settings, detector, store):
        first = await post(fake, **image(fake, 9))
        await until(lambda: _disabled(store))
        await post(fake, **image(fake, 10))
        await flags_of(store, 2)
    told = permission_missing(ENGLISH, Action.REACT, f"<#{CHANNEL}>")
    posts = [b["content"] for b in fake.bodies(f"/channels/{MODLOG_ID}/messages")]
    assert posts.count(told) == 1
    assert len(fake.sent(f"/channels/{CHANNEL}/messages/\\d+/reactions/.+/@me", "PUT")) == 1
    assert first["id"]
    saved = await store.policy(GUILD, private=False)
    assert saved.disabled == frozenset({(CHANNEL, Action.REACT)})


async def _disabled(store: ModerationStore) -> bool:
    return bool((await store.policy(GUILD, private=False)).disabled)


async def test_without_a_modlog_the_owner_is_told_by_direct_message(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """A refused delete with no mod-log set is reported to the server owner in a DM."""
    await store.save_policy(GUILD, policy(modlog=None, actions=frozenset({Action.DELETE})))
    fake.fail(
        "DELETE",
        f"/channels/{CHANNEL}/messages/\\d+",
        403,
        body={"message": "Missing Permissions", "code": 50013},
    )
    async with moderating(fake, settings, detector, store):
        await post(fake, **image(fake, 11))
        await fake.wait_for(lambda: fake.bodies(f"/channels/{DM_ID}/messages"))
    (dm,) = fake.bodies(f"/channels/{DM_ID}/messages")
    assert dm["content"] == permission_missing(ENGLISH, Action.DELETE, f"<#{CHANNEL}>")
    (opened,) = fake.bodies("/users/@me/channels")
    assert str(opened["recipient_id"]) == fd.HUMAN["id"]  # the guild's owner in the fake


async def test_settings_and_flags_survive_a_restart_and_no_message_is_handled_twice(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store_url: str
) -> None:
    """After a restart on the same SQLite file, a replayed message is not flagged again."""
    async with SqlStore.open(store_url) as first:
        await first.save_policy(GUILD, policy())
        async with moderating(fake, settings, detector, first):
            message = await post(fake, **image(fake, 12))
            await flags_of(first, 1)
    async with SqlStore.open(store_url) as second:
        async with moderating(fake, settings, detector, second):
            await fake.dispatch("MESSAGE_CREATE", message)
            marker = await post(fake, **image(fake, 13))
            await flags_of(second, 2)
        flag = await second.get_flag(1)
        assert (await second.policy(GUILD, private=False)) == policy()
    assert flag is not None
    assert flag.flag.message == message["id"]
    assert reactions(fake, message) == [MARKER_EMOJI]
    assert reactions(fake, marker) == [MARKER_EMOJI]
    assert len(fake.bodies(f"/channels/{MODLOG_ID}/messages")) == 2


async def test_a_deleted_modlog_channel_is_switched_off_and_the_owner_told_once(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """A 404 from the mod-log channel turns mod-log posts off and DMs the owner just once."""
    await store.save_policy(GUILD, policy())
    gone = {"message": "Unknown Channel", "code": 10003}
    fake.fail("POST", f"/channels/{MODLOG_ID}/messages", 404, body=gone, times=5)
    async with moderating(fake, settings, detector, store):
        await post(fake, **image(fake, 30))
        await fake.wait_for(lambda: fake.bodies(f"/channels/{DM_ID}/messages"))
        second = await post(fake, **image(fake, 31))
        await fake.wait_for(lambda: reactions(fake, second))
    (dm,) = fake.bodies(f"/channels/{DM_ID}/messages")
    assert dm["content"] == permission_missing(ENGLISH, Action.MODLOG, f"<#{MODLOG_ID}>")
    assert len(fake.sent(f"/channels/{MODLOG_ID}/messages")) == 1
    saved = await store.policy(GUILD, private=False)
    assert saved.disabled == frozenset({(MODLOG_ID, Action.MODLOG)})


async def test_a_menu_check_flags_the_message_once_unless_its_author_is_exempt(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """Checking a message from its menu flags it by the server's policy, once; exempt roles hold."""
    await store.save_policy(GUILD, policy(exempt_roles=frozenset({ROLE_ID})))
    fake.member_roles[OTHER_HUMAN["id"]] = [ROLE_ID]  # menu messages carry no member: fetched
    target = message_payload(**image(fake, 40))
    del target["member"]
    exempt = message_payload(**image(fake, 41), author=OTHER_HUMAN)
    del exempt["member"]
    async with moderating(fake, settings, detector, store):
        await fake.dispatch("GUILD_ROLE_CREATE", role_create())
        for checked in (target, target, exempt):
            asked = message_menu(checked)
            await fake.dispatch("INTERACTION_CREATE", asked)
            await callback_of(fake, asked)
    assert reactions(fake, target) == [MARKER_EMOJI]
    assert reactions(fake, exempt) == []
    assert len(fake.bodies(f"/channels/{MODLOG_ID}/messages")) == 1
    assert fake.sent(f"/guilds/{fd.GUILD_ID}/members/{OTHER_HUMAN['id']}", "GET")


REPLY_FAILURES = [
    pytest.param(503, {"message": "Service Unavailable", "code": 0}, id="5xx"),
    pytest.param(
        400,
        {"message": "Cannot reply without permission to read message history", "code": 160002},
        id="400-no-read-message-history",
    ),
    pytest.param(403, {"message": "Missing Permissions", "code": 50013}, id="403"),
]


@pytest.mark.parametrize(("status", "error"), REPLY_FAILURES)
async def test_a_failing_reply_leaves_the_flags_actions_done(
    fake: ModFakeDiscord,
    settings: Settings,
    detector: Detector,
    store: ModerationStore,
    status: int,
    error: dict[str, object],
) -> None:
    """Actions come before the reply: when Discord refuses the reply (a 5xx, a 400 for a missing
    Read Message History, a 403), the marker, the mod-log post, the time-out and the deletion
    have all reached Discord already."""
    actions = frozenset({Action.REACT, Action.MODLOG, Action.TIMEOUT, Action.DELETE})
    await store.save_policy(GUILD, policy(mode=Mode.REPLY_ALL, actions=actions))
    fake.fail("POST", f"/channels/{CHANNEL}/messages", status, body=error)
    async with moderating(fake, settings, detector, store):
        message = await post(fake, **image(fake, 50))
        await fake.wait_for(lambda: fake.sent(f"/channels/{CHANNEL}/messages"))
    [reply] = fake.sent(f"/channels/{CHANNEL}/messages")
    deleted = fake.sent(f"/channels/{CHANNEL}/messages/{message['id']}", "DELETE")
    [notice] = [r for r in fake.sent(f"/channels/{MODLOG_ID}/messages") if r.status == 200]
    [marker] = fake.sent(f"/channels/{CHANNEL}/messages/\\d+/reactions/.+/@me", "PUT")
    [timeout] = fake.sent(f"/guilds/{fd.GUILD_ID}/members/{fd.HUMAN['id']}", "PATCH")
    assert reply.status == status
    assert "probability of AI" in reply.body["content"]
    assert reactions(fake, message) == [MARKER_EMOJI]
    assert timeout.status == 200
    assert timeout.body["communication_disabled_until"]
    assert [r.status for r in deleted] == [204]
    order = [fake.requests.index(r) for r in (marker, notice, timeout, deleted[0], reply)]
    assert order == sorted(order)
    flag = await store.get_flag(1)
    assert flag is not None
    assert flag.modlog_message is not None
    assert flag.flag.actions == actions
