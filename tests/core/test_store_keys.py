"""Processed-message keys of any length, on SQLite and PostgreSQL.

A key is part of the primary key of `processed_messages`; PostgreSQL refuses an index row past
about 2.7 KB, so a long key (a link's whole URL) must still be claimed, once, on both.
Uses the database fixtures of tests/core/test_store.py.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from core.moderation import schema
from core.moderation.store import SqlStore
from tests.core import test_store as base
from tests.core.test_store import CHAT

# The database fixtures, shared (pytest finds fixtures by their name in this module).
db_url, clock, open_store, db = base.db_url, base.clock, base.open_store, base.db

# Incompressible, as a real signed URL is: PostgreSQL compresses a repetitive one below its limit.
NOISE = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(80))
LONG = f"1234:link:https://images-ext-1.discordapp.net/external/{NOISE}/cat.png"


class TestLongKeys:
    async def test_a_long_key_is_claimed_once(self, db: SqlStore) -> None:
        """A 5 KB key is claimed the first time only, and differs from one that shares its start."""
        assert await db.claim(CHAT, LONG)
        assert not await db.claim(CHAT, LONG)
        assert await db.claim(CHAT, LONG + "x")

    async def test_stored_keys_stay_short(self, db: SqlStore, db_url: str) -> None:
        """What the database indexes is bounded, whatever the key's length; short keys are kept."""
        await db.claim(CHAT, LONG)
        await db.claim(CHAT, "1234:attachment:99")
        engine = schema.open_engine(db_url)
        try:
            async with engine.connect() as conn:
                stored = list(await conn.scalars(sa.select(schema.processed_messages.c.message)))
        finally:
            await engine.dispose()
        assert "1234:attachment:99" in stored
        assert len(stored) == 2
        assert max(len(key) for key in stored) <= 128
