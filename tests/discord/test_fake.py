"""The fake Discord itself serves the REST calls later features will need (reactions, deletes, files)."""

from __future__ import annotations

import io

import discord
import pytest

from tests.discord import fake_discord as fd
from tests.discord.discord_harness import TOKEN, serving
from tests.fakes import png_bytes

pytestmark = pytest.mark.slow


async def test_reactions_deletes_and_file_uploads_reach_the_fake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain discord.py client can react, delete and upload a file (multipart) against the fake."""
    async with serving(monkeypatch) as fake:
        client = discord.Client(intents=discord.Intents.none())
        async with client:
            await client.login(TOKEN)
            channel = client.get_partial_messageable(int(fd.CHANNEL_ID))
            target = channel.get_partial_message(int(fd.snowflake()))
            await target.add_reaction("✅")
            await target.delete()
            sent = await channel.send("here", file=discord.File(io.BytesIO(png_bytes(1)), "x.png"))
    reaction = fake.sent(rf"/channels/{fd.CHANNEL_ID}/messages/\d+/reactions/.+/@me", "PUT")
    deletion = fake.sent(rf"/channels/{fd.CHANNEL_ID}/messages/\d+", "DELETE")
    [upload] = fake.sent(rf"/channels/{fd.CHANNEL_ID}/messages")
    assert [r.status for r in reaction + deletion] == [204, 204]
    assert upload.body["files"] == ["files[0]"]
    assert upload.body["attachments"][0]["filename"] == "x.png"
    assert sent.content == "here"
    assert all(r.headers["Authorization"] == f"Bot {TOKEN}" for r in fake.requests)
