"""`SqlStore` against SQLite and, when DEEPGUARD_TEST_POSTGRES_URL is set, PostgreSQL too.

A "restart" is a second `SqlStore.open` on the same database (new engine, new objects); a second
process is a second store open at the same time (its own connections).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from core.errors import StoreUnavailable
from core.moderation import schema
from core.moderation.codec import policy_from_json, policy_to_json
from core.moderation.policy import default_policy, with_mode, with_threshold, without_action
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, ChatStats, FlagStatus, Mode, NewFlag

POSTGRES_VARIABLE = "DEEPGUARD_TEST_POSTGRES_URL"
START = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
CHAT = ChatKey("discord", "1001")
OTHER = ChatKey("telegram", "1001")  # the same id on the other platform is another chat


class Clock:
    """A settable clock, so stored times are known exactly."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


Opener = Callable[..., AbstractAsyncContextManager[SqlStore]]


async def _drop_all(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(schema.metadata.drop_all)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'moderation.db'}"
        return
    url = os.environ.get(POSTGRES_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_VARIABLE} is unset (.ci/run starts a PostgreSQL and sets it)")
    await _drop_all(url)
    yield url
    await _drop_all(url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_store(db_url: str, clock: Clock) -> Opener:
    """Open the test database again, as a restarted or second process would."""

    def opener(retention_days: int = 30) -> AbstractAsyncContextManager[SqlStore]:
        return SqlStore.open(db_url, retention_days=retention_days, clock=clock)

    return opener


@pytest.fixture
async def db(open_store: Opener) -> AsyncIterator[SqlStore]:
    async with open_store() as store:
        yield store


def new_flag(chat: ChatKey = CHAT, message: str = "m1", probability: float = 0.91) -> NewFlag:
    return NewFlag(
        chat=chat,
        channel="c1",
        message=message,
        author="u1",
        sha256="ab" * 32,
        fake_probability=probability,
        actions=frozenset({Action.REACT, Action.MODLOG}),
    )


class TestPolicyChanges:
    """Each change is atomic: changes made at once, from one process or two, are all kept."""

    async def test_concurrent_changes_from_two_processes_are_all_kept(
        self, open_store: Opener
    ) -> None:
        async with open_store() as first, open_store() as second:

            def exempt(user: str) -> Callable[[ChatPolicy], ChatPolicy]:
                return lambda p: replace(p, exempt_users=p.exempt_users | {user})

            users = [f"u{i}" for i in range(12)]
            stores = [first, second] * 6
            await asyncio.gather(
                *(
                    store.change_policy(CHAT, exempt(u))
                    for store, u in zip(stores, users, strict=True)
                )
            )
            assert (await first.policy(CHAT, private=False)).exempt_users == frozenset(users)

    async def test_an_admin_edit_and_an_action_switching_itself_off_both_stay(
        self, db: SqlStore
    ) -> None:
        """The two kinds of change the bots make at once, on different fields of one policy."""
        await db.save_policy(CHAT, replace(default_policy(False), actions=frozenset(Action)))
        await asyncio.gather(
            db.change_policy(CHAT, lambda p: without_action(p, "c1", Action.DELETE)),
            db.change_policy(CHAT, lambda p: with_threshold(p, 0.9)),
        )
        saved = await db.policy(CHAT, private=False)
        assert saved.threshold == 0.9
        assert ("c1", Action.DELETE) in saved.disabled

    async def test_a_change_that_saves_nothing_leaves_a_new_chat_default(
        self, db: SqlStore
    ) -> None:
        assert await db.change_policy(OTHER, lambda p: None, private=True) is None
        assert await db.policy(OTHER, private=True) == default_policy(True)
        changed = await db.change_policy(OTHER, lambda p: with_mode(p, Mode.OFF), private=True)
        assert changed == with_mode(default_policy(True), Mode.OFF)
        assert await db.policy(OTHER, private=True) == changed


class TestPolicies:
    @pytest.mark.parametrize("private", [False, True])
    async def test_new_chat_gets_the_default(self, db: SqlStore, private: bool) -> None:
        """A chat with nothing saved gets `default_policy`."""
        assert await db.policy(CHAT, private=private) == default_policy(private)

    async def test_round_trip_survives_a_restart(self, db: SqlStore, open_store: Opener) -> None:
        """Every field of a saved policy comes back unchanged, also after a restart."""
        policy = ChatPolicy(
            mode=Mode.FLAG_ONLY,
            threshold=0.83,
            uncertain_from=0.25,
            actions=frozenset({Action.WARN, Action.DELETE, Action.TIMEOUT}),
            modlog="-100123",
            pending_modlog="-100456",
            exempt_channels=frozenset({"art", "memes"}),
            exempt_roles=frozenset({"r1"}),
            exempt_users=frozenset({"u9", "u8"}),
            new_members_days=14,
            timeout_minutes=60,
            disabled=frozenset({("c1", Action.DELETE), ("c2", Action.REACT)}),
            explicit_mode=True,
            declared_ai_is_fake=False,
        )
        await db.save_policy(CHAT, policy)
        assert await db.policy(CHAT, private=False) == policy
        async with open_store() as again:
            assert await again.policy(CHAT, private=False) == policy

    async def test_saving_again_replaces(self, db: SqlStore) -> None:
        """The last saved policy wins, and other chats keep the default."""
        await db.save_policy(CHAT, ChatPolicy(mode=Mode.OFF))
        await db.save_policy(CHAT, ChatPolicy(mode=Mode.FLAG_ONLY, modlog="9"))
        assert await db.policy(CHAT, private=False) == ChatPolicy(mode=Mode.FLAG_ONLY, modlog="9")
        assert await db.policy(OTHER, private=False) == default_policy(False)


class TestClaims:
    async def test_once_ever(self, db: SqlStore, open_store: Opener) -> None:
        """A message is claimed the first time only, also after a restart."""
        assert await db.claim(CHAT, "m1")
        assert not await db.claim(CHAT, "m1")
        async with open_store() as again:
            assert not await again.claim(CHAT, "m1")
            assert await again.claim(CHAT, "m2")
        assert await db.claim(OTHER, "m1")

    async def test_long_keys(self, db: SqlStore) -> None:
        """Ids and keys of any length are stored as given on every backend."""
        key = "album:" + "9" * 500
        chat = ChatKey("telegram", "-100" + "1" * 200)
        assert await db.claim(chat, key)
        assert not await db.claim(chat, key)
        flag = await db.add_flag(new_flag(chat=chat, message=key))
        assert await db.get_flag(flag.id) == flag

    async def test_concurrent_claims_one_winner(self, db: SqlStore, open_store: Opener) -> None:
        """Two processes racing for the same messages each win some, and every message once."""
        async with open_store() as second:
            claims = [
                store.claim(CHAT, f"m{n}") for n in range(10) for store in (db, second, db, second)
            ]
            won = await asyncio.gather(*claims)
        for n in range(10):
            assert sum(won[4 * n : 4 * n + 4]) == 1


class TestFlags:
    async def test_add_and_get(self, db: SqlStore, clock: Clock) -> None:
        """A flag comes back as recorded, open, with its creation time and mod-log post."""
        flag = await db.add_flag(new_flag())
        assert flag.status is FlagStatus.OPEN
        assert flag.created_at == START
        await db.set_modlog_message(flag.id, "post-7")
        stored = await db.get_flag(flag.id)
        assert stored is not None
        assert stored.flag == new_flag()
        assert (stored.id, stored.status, stored.created_at) == (flag.id, FlagStatus.OPEN, START)
        assert (stored.reviewer, stored.reviewed_at, stored.modlog_message) == (
            None,
            None,
            "post-7",
        )

    async def test_ids_are_distinct(self, db: SqlStore) -> None:
        """Each flag gets its own id."""
        ids = {(await db.add_flag(new_flag(message=f"m{n}"))).id for n in range(3)}
        assert len(ids) == 3

    @pytest.mark.parametrize("status", [FlagStatus.CONFIRMED, FlagStatus.DISMISSED])
    async def test_review_once(self, db: SqlStore, clock: Clock, status: FlagStatus) -> None:
        """A review closes an open flag once; a second review (a double click) gets None."""
        flag = await db.add_flag(new_flag())
        clock.advance(minutes=5)
        reviewed = await db.review(flag.id, status, "mod-1")
        assert reviewed is not None
        assert (reviewed.status, reviewed.reviewer) == (status, "mod-1")
        assert reviewed.reviewed_at == START + timedelta(minutes=5)
        assert await db.review(flag.id, FlagStatus.DISMISSED, "mod-2") is None
        assert await db.get_flag(flag.id) == reviewed

    async def test_concurrent_reviews_one_winner(self, db: SqlStore, open_store: Opener) -> None:
        """Two moderators pressing at once in two processes: exactly one review counts."""
        flag = await db.add_flag(new_flag())
        async with open_store() as second:
            results = await asyncio.gather(
                db.review(flag.id, FlagStatus.CONFIRMED, "a"),
                second.review(flag.id, FlagStatus.DISMISSED, "b"),
            )
        assert sum(r is not None for r in results) == 1

    async def test_unknown_flag(self, db: SqlStore) -> None:
        """An unknown flag id is None for get and review."""
        assert await db.get_flag(404) is None
        assert await db.review(404, FlagStatus.CONFIRMED, "mod") is None

    @pytest.mark.parametrize("flag_id", [0, -1, 2**31, 2**63, 10**60])
    async def test_an_id_no_flag_can_have_is_unknown(self, db: SqlStore, flag_id: int) -> None:
        """An id outside the database's integers (a forged button) names no flag; no error."""
        await db.add_flag(new_flag())
        assert await db.get_flag(flag_id) is None
        assert await db.review(flag_id, FlagStatus.CONFIRMED, "mod") is None

    async def test_review_cannot_reopen(self, db: SqlStore) -> None:
        """Reviewing to OPEN is a programming error."""
        flag = await db.add_flag(new_flag())
        with pytest.raises(ValueError, match="confirms or dismisses"):
            await db.review(flag.id, FlagStatus.OPEN, "mod")

    async def test_flags_survive_a_restart(self, db: SqlStore, open_store: Opener) -> None:
        """An open flag can be reviewed after a restart."""
        flag = await db.add_flag(new_flag())
        async with open_store() as again:
            reviewed = await again.review(flag.id, FlagStatus.CONFIRMED, "mod")
        assert reviewed is not None
        assert reviewed.flag == new_flag()


class TestStats:
    async def test_windows(self, db: SqlStore, clock: Clock) -> None:
        """Scans and flags are counted per window: 7 days holds the recent ones, 30 days all."""
        clock.now = START - timedelta(days=20)
        await db.count_scanned(CHAT, 5)
        old = await db.add_flag(new_flag(message="old"))
        await db.review(old.id, FlagStatus.DISMISSED, "mod")
        clock.now = START - timedelta(days=2)
        await db.count_scanned(CHAT, 3)
        await db.count_scanned(CHAT, 4)
        await db.count_scanned(CHAT, 0)
        await db.count_scanned(OTHER, 100)
        confirmed = await db.add_flag(new_flag(message="a"))
        await db.review(confirmed.id, FlagStatus.CONFIRMED, "mod")
        await db.add_flag(new_flag(message="b"))
        await db.add_flag(new_flag(chat=OTHER))
        clock.now = START
        week = await db.stats(CHAT, START - timedelta(days=7))
        month = await db.stats(CHAT, START - timedelta(days=30))
        assert week == ChatStats(scanned=7, flagged=2, confirmed=1, dismissed=0, extra={"open": 1})
        assert month == ChatStats(
            scanned=12, flagged=3, confirmed=1, dismissed=1, extra={"open": 1}
        )

    async def test_empty(self, db: SqlStore) -> None:
        """A chat with no history has all-zero stats."""
        assert await db.stats(CHAT, START - timedelta(days=7)) == ChatStats(extra={"open": 0})


class TestRetention:
    async def test_purge_drops_old_keys_and_closed_flags(
        self, open_store: Opener, clock: Clock
    ) -> None:
        """Processed keys and closed flags older than the retention go; open flags and newer rows stay."""
        async with open_store(retention_days=30) as db:
            clock.now = START - timedelta(days=31)
            assert await db.claim(CHAT, "old")
            old_closed = await db.add_flag(new_flag(message="old-closed"))
            await db.review(old_closed.id, FlagStatus.DISMISSED, "mod")
            old_open = await db.add_flag(new_flag(message="old-open"))
            clock.now = START - timedelta(days=29)
            assert await db.claim(CHAT, "recent")
            recent = await db.add_flag(new_flag(message="recent"))
            await db.review(recent.id, FlagStatus.CONFIRMED, "mod")
            clock.now = START
            assert await db.purge(START) == 2
            assert await db.claim(CHAT, "old")  # forgotten, so claimable again
            assert not await db.claim(CHAT, "recent")
            assert await db.get_flag(old_closed.id) is None
            assert await db.get_flag(old_open.id) is not None
            assert await db.get_flag(recent.id) is not None
            assert await db.purge(START) == 0

    async def test_daily_counts_outlive_a_short_retention(
        self, open_store: Opener, clock: Clock
    ) -> None:
        """Scan counts (no personal data) are kept long enough for the 30-day stats."""
        async with open_store(retention_days=1) as db:
            clock.now = START - timedelta(days=40)
            await db.count_scanned(CHAT, 1)
            clock.now = START - timedelta(days=25)
            await db.count_scanned(CHAT, 2)
            assert await db.purge(START) == 1
            assert (await db.stats(CHAT, START - timedelta(days=60))).scanned == 2


class TestForget:
    async def test_forget_one_chat(self, db: SqlStore) -> None:
        """Forgetting a chat deletes its policy, keys, flags and counts, and nothing else."""
        for chat in (CHAT, OTHER):
            await db.save_policy(chat, ChatPolicy(mode=Mode.OFF))
            await db.claim(chat, "m1")
            await db.count_scanned(chat, 3)
        gone = await db.add_flag(new_flag(chat=CHAT))
        kept = await db.add_flag(new_flag(chat=OTHER))
        await db.forget(CHAT)
        assert await db.policy(CHAT, private=False) == default_policy(False)
        assert await db.claim(CHAT, "m1")
        assert await db.get_flag(gone.id) is None
        assert await db.stats(CHAT, START - timedelta(days=30)) == ChatStats(
            scanned=0, extra={"open": 0}
        )
        assert await db.policy(OTHER, private=False) == ChatPolicy(mode=Mode.OFF)
        assert not await db.claim(OTHER, "m1")
        assert await db.get_flag(kept.id) is not None
        assert (await db.stats(OTHER, START - timedelta(days=30))).scanned == 3


class TestMigrations:
    async def test_applied_once(self, db_url: str, open_store: Opener) -> None:
        """Opening twice applies each step once and records every version."""
        for _ in range(2):
            async with open_store() as db:
                assert await db.schema_versions() == list(range(1, schema.LATEST + 1))

    async def test_concurrent_start(self, open_store: Opener) -> None:
        """Processes starting at once on an empty database all come up on the same schema."""

        async def start() -> list[int]:
            async with open_store() as db:
                return await db.schema_versions()

        versions = await asyncio.gather(*(start() for _ in range(3)))
        assert versions == [list(range(1, schema.LATEST + 1))] * 3

    async def test_new_sqlite_file_opened_by_several_at_once(self, tmp_path: Path) -> None:
        """Switching a new SQLite file to WAL waits for the others instead of failing "locked"."""

        async def start(url: str) -> list[int]:
            async with SqlStore.open(url, retention_days=30) as db:
                return await db.schema_versions()

        for round_ in range(25):  # the race is narrow: one round in ~20 lost it before the fix
            url = f"sqlite+aiosqlite:///{tmp_path / f'race-{round_}.db'}"
            versions = await asyncio.gather(*(start(url) for _ in range(3)))
            assert versions == [list(range(1, schema.LATEST + 1))] * 3

    async def test_newer_database_refused(self, db_url: str, open_store: Opener) -> None:
        """A database migrated by a newer DeepGuard is not used by an older one."""
        async with open_store():
            pass
        await _execute(
            db_url, sa.insert(schema.schema_version).values(version=99, applied_at=START)
        )
        with pytest.raises(RuntimeError, match="upgrade DeepGuard"):
            async with open_store():
                pass


async def _execute(url: str, statement: sa.Executable) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(statement)
    finally:
        await engine.dispose()


class TestStoredForm:
    def test_no_image_bytes(self) -> None:
        """No table has a column that could hold an image."""
        for table in schema.metadata.tables.values():
            for column in table.columns:
                assert not isinstance(column.type, sa.LargeBinary), column

    def test_lenient_reading(self) -> None:
        """A stored policy with missing fields, unknown fields or unknown actions still loads."""
        text = '{"mode": "flag-only", "actions": ["react", "teleport"], "colour": "red",'
        text += ' "disabled": [["c1", "delete"], ["c2", "teleport"]]}'
        assert policy_from_json(text) == ChatPolicy(
            mode=Mode.FLAG_ONLY,
            actions=frozenset({Action.REACT}),
            disabled=frozenset({("c1", Action.DELETE)}),
        )

    @pytest.mark.parametrize("stored", [True, False])
    def test_declared_ai_is_fake_round_trips_and_defaults_on(self, stored: bool) -> None:
        """A row written before the setting existed counts declarations; a saved choice stays."""
        assert policy_from_json('{"mode": "flag-only"}').declared_ai_is_fake
        saved = policy_to_json(ChatPolicy(declared_ai_is_fake=stored))
        assert json.loads(saved)["declared_ai_is_fake"] is stored
        assert policy_from_json(saved).declared_ai_is_fake is stored

    @pytest.mark.parametrize("language", ["fr", "pt_BR", None])
    def test_language_round_trips_and_defaults_to_the_platforms(
        self, language: str | None
    ) -> None:
        """A row written before languages existed follows the platform's default (None)."""
        assert policy_from_json('{"mode": "flag-only"}').language is None
        saved = policy_to_json(ChatPolicy(language=language))
        assert policy_from_json(saved).language == language

    def test_every_field_is_stored(self) -> None:
        """A field added to ChatPolicy without its stored form would silently never be saved."""
        stored = json.loads(policy_to_json(ChatPolicy()))
        assert set(stored) == {field.name for field in fields(ChatPolicy)}

    def test_json_is_stable(self) -> None:
        """The same policy always serialises to the same text."""
        policy = ChatPolicy(exempt_users=frozenset({"b", "a", "c"}))
        assert policy_to_json(policy) == policy_to_json(policy_from_json(policy_to_json(policy)))


class TestUnreachable:
    async def test_a_database_that_cannot_be_reached_raises_store_unavailable(
        self, tmp_path: Path
    ) -> None:
        """A PostgreSQL nobody listens for, or a SQLite file that cannot be opened: every call
        raises `StoreUnavailable` (the bots' outage), not the driver's own error."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # free: nothing listens there
        (tmp_path / "a-file").write_text("not a directory")
        before = set(threading.enumerate())
        urls = [
            f"postgresql+asyncpg://u:p@127.0.0.1:{port}/x",
            f"sqlite+aiosqlite:///{tmp_path / 'a-file' / 'deepguard.db'}",
        ]
        for url in urls:
            engine = create_async_engine(url)
            store = SqlStore(engine, retention_days=30, clock=lambda: START)
            try:
                with pytest.raises(StoreUnavailable):
                    await store.policy(CHAT, private=False)
                with pytest.raises(StoreUnavailable):
                    await store.change_policy(CHAT, lambda policy: policy)
                with pytest.raises(StoreUnavailable):
                    await store.claim(CHAT, "m1")
                with pytest.raises(StoreUnavailable):
                    await store.add_flag(new_flag())
            finally:
                await engine.dispose()
        # aiosqlite stops a connection that failed to open by a message to its thread, which
        # answers on this loop: let those threads finish while the loop still runs.
        for thread in set(threading.enumerate()) - before:
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 10)
