"""Discord moderation end to end: review buttons, `/deepguard` commands, forgetting a server.

The real discord.py client runs through `discord_client.run` against the fake Discord, with the
tiny random model and the real SQLite store.
"""

from __future__ import annotations

import pytest

from bots.moderation_replies import (
    ADMINS_ONLY,
    FORGOTTEN,
    MARKER_EMOJI,
    REPORT_ALREADY,
    REPORT_NOT_YOURS,
    REPORT_THANKS,
    REVIEW_ADMINS_ONLY,
    UNKNOWN_FLAG,
)
from bots.replies import UNEXPECTED
from config import Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatPolicy, Flag, FlagStatus, Mode, ModerationStore
from tests.core.memory_store import MemoryStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import answered, image, post, reply_to
from tests.discord.discord_mod_harness import (
    GUILD,
    moderating,
    policy,
    reactions,
    served_mod_fake,
    until,
)
from tests.discord.discord_payloads import Json
from tests.discord.fake_discord_mod import (
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    MODLOG_ID,
    NO_PERMISSIONS,
    OTHER_HUMAN,
    OTHER_ID,
    ROLE_ID,
    ModFakeDiscord,
    channel_option,
    click,
    custom_ids,
    deepguard,
    option,
    posted,
    role_create,
)

pytestmark = pytest.mark.slow

CHANNEL = fd.CHANNEL_ID
EPHEMERAL = 64


fake = pytest.fixture(served_mod_fake)


async def flagged(fake: ModFakeDiscord, seed: int) -> tuple[Json, Json]:
    """Post an image, wait for its mod-log post; return the message and the post."""
    message = await post(fake, **image(fake, seed))
    await fake.wait_for(lambda: reactions(fake, message))
    path = f"/channels/{MODLOG_ID}/messages"
    await fake.wait_for(lambda: any(message["id"] in b["content"] for b in fake.bodies(path)))
    (body,) = [b for b in fake.bodies(path) if message["id"] in b["content"]]
    return message, posted(body, MODLOG_ID)


def ephemeral(callback: Json) -> str:
    assert callback["type"] == 4
    assert callback["data"]["flags"] & EPHEMERAL
    return str(callback["data"]["content"])


async def test_confirm_is_for_moderators_and_deletes_the_message(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """A member without Manage Messages is refused; a moderator's Confirm deletes and closes."""
    await store.save_policy(GUILD, policy())
    async with moderating(fake, settings, detector, store):
        message, notice = await flagged(fake, 1)
        confirm = custom_ids(notice)[0]
        member = click(confirm, notice, user=OTHER_HUMAN, permissions=NO_PERMISSIONS)
        refused = await answered(fake, member)
        assert ephemeral(refused) == REVIEW_ADMINS_ONLY
        assert (await store.get_flag(1)).status is FlagStatus.OPEN  # type: ignore[union-attr]
        done = await answered(fake, click(confirm, notice, permissions=MANAGE_MESSAGES))  # owner
    assert done["type"] == 7  # the mod-log post itself is edited
    assert "Confirmed by" in done["data"]["content"]
    assert done["data"]["components"] == []
    assert fake.sent(f"/channels/{CHANNEL}/messages/{message['id']}", "DELETE")
    flag = await store.get_flag(1)
    assert flag is not None
    assert flag.status is FlagStatus.CONFIRMED
    assert flag.reviewer == fd.HUMAN["id"]


async def test_dismiss_records_a_false_positive_and_removes_the_marker(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """Dismiss marks the flag dismissed, takes the marker reaction off and deletes nothing."""
    await store.save_policy(GUILD, policy())
    async with moderating(fake, settings, detector, store):
        message, notice = await flagged(fake, 2)
        done = await answered(fake, click(custom_ids(notice)[1], notice))
        again = await answered(fake, click(custom_ids(notice)[0], notice))
        stats = await answered(fake, deepguard("stats"))
    assert "Dismissed by" in done["data"]["content"]
    assert reactions(fake, message, "DELETE") == [MARKER_EMOJI]
    assert not fake.sent(f"/channels/{CHANNEL}/messages/{message['id']}", "DELETE")
    assert ephemeral(again) == "This flag was already reviewed."
    flag = await store.get_flag(1)
    assert flag is not None
    assert flag.status is FlagStatus.DISMISSED
    assert "1 flagged, 0 confirmed, 1 dismissed" in ephemeral(stats)


async def test_only_the_poster_can_report_a_mistake_and_it_lands_in_the_modlog(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """The warning's report button refuses others; the poster's report is posted to the mod-log."""
    await store.save_policy(GUILD, policy(actions=frozenset({Action.WARN, Action.MODLOG})))
    async with moderating(fake, settings, detector, store):
        message = await post(fake, **image(fake, 3))
        (warning,) = await reply_to(fake, message)
        report = custom_ids(warning)[0]
        on = posted(warning)
        other = await answered(fake, click(report, on, user=OTHER_HUMAN, permissions="0"))
        mine = await answered(fake, click(report, on, permissions="0"))
        twice = await answered(fake, click(report, on, permissions="0"))
    assert ephemeral(other) == REPORT_NOT_YOURS
    assert ephemeral(mine) == REPORT_THANKS
    assert ephemeral(twice) == REPORT_ALREADY
    notices = fake.bodies(f"/channels/{MODLOG_ID}/messages")
    reports = [b for b in notices if "reports flag #1 as a mistake" in b["content"]]
    assert len(reports) == 1
    assert custom_ids(reports[0]) == ["deepguard:confirm:1", "deepguard:dismiss:1"]


async def test_buttons_posted_before_a_restart_still_work(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store_url: str
) -> None:
    """A Confirm clicked after a restart is answered from the store and deletes the message."""
    async with SqlStore.open(store_url) as first:
        await first.save_policy(GUILD, policy())
        async with moderating(fake, settings, detector, first):
            message, notice = await flagged(fake, 4)
    async with SqlStore.open(store_url) as second, moderating(fake, settings, detector, second):
        done = await answered(fake, click(custom_ids(notice)[0], notice))
    assert "Confirmed by" in done["data"]["content"]
    assert fake.sent(f"/channels/{CHANNEL}/messages/{message['id']}", "DELETE")


async def test_settings_need_manage_server_on_every_call(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """A member without Manage Server is refused; every admin change is saved; all ephemeral."""
    threshold = [option("percent", 40, 4)]
    async with moderating(fake, settings, detector, store):
        refused = await answered(
            fake,
            deepguard("settings", "threshold", options=threshold, permissions=MANAGE_MESSAGES),
        )
        saved = await answered(fake, deepguard("settings", "threshold", options=threshold))
        mode = [option("mode", "reply-all", 3)]
        await answered(fake, deepguard("settings", "mode", options=mode))
        modlog, resolved = channel_option("channel", MODLOG_ID)
        await answered(fake, deepguard("settings", "modlog", options=[modlog], resolved=resolved))
        exempt, resolved = channel_option("channel", fd.OTHER_CHANNEL_ID)
        edit = option("edit", "add", 3)
        await answered(
            fake,
            deepguard("settings", "exempt-channel", options=[edit, exempt], resolved=resolved),
        )
        switches = [option("delete", True, 5), option("react", False, 5)]
        await answered(fake, deepguard("settings", "actions", options=switches))
        user = option("user", OTHER_HUMAN["id"], 6)
        users = {"users": {OTHER_HUMAN["id"]: OTHER_HUMAN}}
        await answered(
            fake, deepguard("settings", "exempt-user", options=[edit, user], resolved=users)
        )
        role = option("role", ROLE_ID, 8)
        roles = {"roles": {ROLE_ID: role_create()["role"]}}
        await answered(
            fake, deepguard("settings", "exempt-role", options=[edit, role], resolved=roles)
        )
        days = [option("days", 7, 4)]
        await answered(fake, deepguard("settings", "new-members", options=days))
        shown = await answered(fake, deepguard("settings", "show"))
    assert ephemeral(refused) == ADMINS_ONLY
    assert "40%" in ephemeral(saved)
    assert f"<#{fd.OTHER_CHANNEL_ID}>" in ephemeral(shown)
    assert await store.policy(GUILD, private=False) == ChatPolicy(
        mode=Mode.REPLY_ALL,  # chosen, so setting a mod-log does not switch to flag-only
        explicit_mode=True,
        threshold=0.4,
        actions=frozenset({Action.MODLOG, Action.DELETE}),
        modlog=MODLOG_ID,
        exempt_channels=frozenset({fd.OTHER_CHANNEL_ID}),
        exempt_users=frozenset({OTHER_ID}),
        exempt_roles=frozenset({ROLE_ID}),
        new_members_days=7,
    )


async def test_forget_command_and_leaving_a_server_delete_its_data(
    fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
) -> None:
    """`/deepguard forget` is for admins and deletes the data; so does being removed."""
    await store.save_policy(GUILD, policy())
    async with moderating(fake, settings, detector, store):
        await flagged(fake, 5)
        refused = await answered(fake, deepguard("forget", permissions=MANAGE_MESSAGES))
        assert await store.get_flag(1) is not None
        forgot = await answered(fake, deepguard("forget", permissions=MANAGE_GUILD))
        assert await store.get_flag(1) is None
        await store.save_policy(GUILD, policy())
        await fake.dispatch("GUILD_DELETE", {"id": fd.GUILD_ID})
        await until(lambda: _default(store))
    assert ephemeral(refused) == ADMINS_ONLY
    assert ephemeral(forgot) == FORGOTTEN


async def _default(store: ModerationStore) -> bool:
    return (await store.policy(GUILD, private=False)) != policy()


class BrokenFlags(MemoryStore):
    """A store whose flag lookups hit a bug."""

    async def get_flag(self, flag_id: int) -> Flag | None:
        raise RuntimeError("a bug in the store")


async def test_unknown_flags_and_bugs_behind_a_button_get_a_polite_answer(
    fake: ModFakeDiscord,
    settings: Settings,
    detector: Detector,
    store: ModerationStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A button of a deleted flag says so; a bug is logged with its traceback and answered."""
    on = posted({"content": "flag"}, MODLOG_ID)
    async with moderating(fake, settings, detector, store):
        unknown = await answered(fake, click("deepguard:confirm:999", on))
    async with moderating(fake, settings, detector, BrokenFlags()):
        broken = await answered(fake, click("deepguard:confirm:1", on))
    assert ephemeral(unknown) == UNKNOWN_FLAG
    assert ephemeral(broken) == UNEXPECTED
    (record,) = [r for r in caplog.records if "flag button" in r.getMessage()]
    assert record.exc_info is not None
