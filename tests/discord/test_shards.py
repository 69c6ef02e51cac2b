"""Discord sharding: one process runs every shard, or only the slice its settings name."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

import pytest
from pydantic import ValidationError

from config import DiscordSettings, Settings
from core.detector import Detector
from tests.discord.discord_harness import bot_running, bot_settings, pointed_at, reply_to
from tests.discord.fake_discord_shards import ShardedFakeDiscord, guild_on
from tests.fakes import png_bytes


def sharded(
    monkeypatch: pytest.MonkeyPatch, shard_count: int, guild_ids: Sequence[str]
) -> AbstractAsyncContextManager[ShardedFakeDiscord]:
    """A sharded fake Discord with discord.py pointed at it (the harness's two patches)."""
    return pointed_at(monkeypatch, ShardedFakeDiscord(shard_count, guild_ids))


@pytest.mark.slow
async def test_one_process_answers_on_every_shard_discord_recommends(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """With no shard settings the bot asks Discord, opens both shards and answers in both guilds."""
    guilds = [guild_on(0, 2), guild_on(1, 2)]
    async with sharded(monkeypatch, 2, guilds) as fake:
        async with bot_running(fake, bot_settings(settings, fake), detector):
            await fake.wait_for(lambda: len(fake.connections) == 2)
            posted = [
                await fake.post_in(g, attachments=[fake.attachment("cat.png", png_bytes(9))])
                for g in guilds
            ]
            for payload in posted:
                [reply] = await reply_to(fake, payload)
                assert "%" in reply["content"]
        assert sorted(fake.identified_shards()) == [[0, 2], [1, 2]]
        assert len(fake.sent("/gateway/bot", "GET")) == 1


@pytest.mark.slow
async def test_a_process_runs_only_the_shards_it_is_given(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """shard_ids=[1] of 2 connects shard 1 alone, without asking Discord, and answers there."""
    guild = guild_on(1, 2)
    async with sharded(monkeypatch, 2, [guild_on(0, 2), guild]) as fake:
        configured = bot_settings(settings, fake, shard_count=2, shard_ids=[1])
        async with bot_running(fake, configured, detector):
            payload = await fake.post_in(
                guild, attachments=[fake.attachment("cat.png", png_bytes(9))]
            )
            [reply] = await reply_to(fake, payload)
            assert "%" in reply["content"]
        assert fake.identified_shards() == [[1, 2]]
        assert fake.sent("/gateway/bot", "GET") == []


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"shard_ids": [0]}, "needs shard_count"),
        ({"shard_count": 2, "shard_ids": [2]}, "from 0 to 1"),
        ({"shard_count": 2, "shard_ids": [1, 1]}, "distinct"),
        ({"shard_count": 2, "shard_ids": []}, "distinct"),
        ({"shard_count": 0}, "greater than or equal to 1"),
    ],
)
def test_a_bad_shard_split_is_refused(values: dict[str, object], complaint: str) -> None:
    """Shard ids need a total, must lie below it and must not repeat."""
    with pytest.raises(ValidationError, match=complaint):
        DiscordSettings.model_validate(values)


def test_a_good_shard_split_is_kept() -> None:
    """A count alone, or a count with distinct ids below it, is accepted as given."""
    assert DiscordSettings(shard_count=3).shard_ids is None
    assert DiscordSettings(shard_count=4, shard_ids=[2, 3]).shard_ids == [2, 3]
