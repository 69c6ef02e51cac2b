"""`Outage`: a store call during an outage gives its fallback, and a chat that removed the bot
meanwhile is forgotten as soon as the database answers again."""

from __future__ import annotations

import logging

import pytest

from bots.outage import Outage
from core.moderation.types import ChatKey, ChatPolicy, Mode
from tests.core.memory_store import OutageStore

GONE = ChatKey("telegram", "-100")
STAYS = ChatKey("telegram", "-200")
POLICY = ChatPolicy(mode=Mode.FLAG_ONLY)


async def test_a_removal_during_an_outage_is_deleted_once_the_database_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = OutageStore()
    await store.save_policy(GONE, POLICY)
    await store.save_policy(STAYS, POLICY)
    outage = Outage(store)
    store.down = True
    assert not await outage.forget(GONE)
    assert outage.pending == {GONE}
    assert await outage.attempt(store.policy(STAYS, private=False), None) is None  # still down
    assert outage.pending == {GONE}
    store.down = False
    assert GONE in store.policies  # nothing happens by itself until a call reaches the database
    with caplog.at_level(logging.INFO, logger="bots.outage"):
        assert await outage.attempt(store.policy(STAYS, private=False), None) == POLICY
    assert GONE not in store.policies
    assert store.policies[STAYS] == POLICY
    assert outage.pending == frozenset()
    assert "telegram chat -100: its data is deleted now" in caplog.text


async def test_a_removal_with_the_database_up_is_deleted_at_once() -> None:
    store = OutageStore()
    await store.save_policy(GONE, POLICY)
    outage = Outage(store)
    assert await outage.forget(GONE)
    assert GONE not in store.policies
    assert outage.pending == frozenset()
