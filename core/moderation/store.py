"""`SqlStore`: moderation state in SQLite (one process) or PostgreSQL (several), via SQLAlchemy.

Every method is one short transaction, so processes sharing a database never see half a change;
`claim` is a single INSERT ... ON CONFLICT DO NOTHING, which the database makes atomic. The
queries come in three groups: per-chat bookkeeping (policies, processed-message claims, scan
counts), flags (raising one, its mod-log post, a review, a poster's report, the counts), and
upkeep (retention, forgetting a chat, following a chat to a new id); `purge_regularly` runs the
retention. A database that cannot be reached (a refused or dropped connection, a timeout, a
SQLite file that cannot be opened or stays locked) raises `StoreUnavailable`, which the bots ride
out as an outage.

Values are converted to and from their stored form by `core.moderation.codec`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import StoreUnavailable
from core.moderation import schema as s
from core.moderation.codec import actions_to_text, flag_from_row, policy_from_json, policy_to_json
from core.moderation.policy import default_policy
from core.moderation.types import (
    FLAG_ID_MAX,
    ChatKey,
    ChatPolicy,
    ChatStats,
    Flag,
    FlagStatus,
    ModerationStore,
    NewFlag,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# What an unreachable database looks like: the server refusing or dropping the connection, a
# timeout, or (SQLite) a file that cannot be opened or stays locked; never a bug or a constraint.
UNREACHABLE = (OSError, TimeoutError, sa.exc.OperationalError, sa.exc.InterfaceError)
STATS_DAYS_KEPT = 31  # daily scan counts outlive a shorter retention: /stats shows 30 days
MAX_STORED_KEY = 128  # longer processed-message keys are stored as their SHA-256


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqlStore:
    """The `ModerationStore` on a SQLAlchemy async engine; build it with `SqlStore.open`."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        retention_days: int,
        clock: Clock,
        threshold: float = 0.7,
        uncertain_from: float = 0.3,
        declared_ai_is_fake: bool = True,
    ) -> None:
        self._engine = engine
        self._bands = {"threshold": threshold, "uncertain_from": uncertain_from}
        self._declared_ai_is_fake = declared_ai_is_fake
        self._retention = timedelta(days=retention_days)
        self._clock = clock
        postgres = engine.dialect.name == "postgresql"
        self._insert: Any = postgresql.insert if postgres else sqlite.insert  # both upsert

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        *,
        retention_days: int = 30,
        clock: Clock = utc_now,
        threshold: float = 0.7,
        uncertain_from: float = 0.3,
        declared_ai_is_fake: bool = True,
    ) -> AsyncIterator[SqlStore]:
        """Connect, bring the schema up to date, and close the connections on exit.

        `threshold` and `uncertain_from` are the bands a chat nobody configured starts with
        (the operator's reply settings: likely AI-generated from, likely real below), and
        `declared_ai_is_fake` its choice on images that declare AI (the provenance setting).
        """
        engine = s.open_engine(url)
        try:
            async with engine.begin() as conn:
                applied = await conn.run_sync(s.migrate, clock())
            if applied:
                log.info("moderation database migrated to version %d", applied[-1])
            yield cls(
                engine,
                retention_days=retention_days,
                clock=clock,
                threshold=threshold,
                uncertain_from=uncertain_from,
                declared_ai_is_fake=declared_ai_is_fake,
            )
        finally:
            await engine.dispose()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """`engine.begin()`; a database that cannot be reached raises `StoreUnavailable`."""
        try:
            async with self._engine.begin() as conn:
                yield conn
        except UNREACHABLE as error:
            raise StoreUnavailable() from error
        except sa.exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise  # a bug, or a constraint: not an outage
            raise StoreUnavailable() from error

    async def schema_versions(self) -> list[int]:
        async with self._engine.connect() as conn:
            rows = await conn.scalars(sa.select(s.schema_version.c.version).order_by("version"))
            return list(rows)

    async def policy(self, chat: ChatKey, *, private: bool) -> ChatPolicy:
        query = sa.select(s.chat_policies.c.policy).where(*of_chat(s.chat_policies, chat))
        async with self._transaction() as conn:
            text = await conn.scalar(query)
        return self._default(private) if text is None else policy_from_json(text)

    def _default(self, private: bool) -> ChatPolicy:
        """The policy of a chat nobody configured, with the operator's defaults."""
        return default_policy(
            private, declared_ai_is_fake=self._declared_ai_is_fake, **self._bands
        )

    async def save_policy(self, chat: ChatKey, policy: ChatPolicy) -> None:
        values = {"policy": policy_to_json(policy), "updated_at": self._clock()}
        insert = self._insert(s.chat_policies).values(
            platform=chat.platform, chat=chat.chat, **values
        )
        upsert = insert.on_conflict_do_update(index_elements=["platform", "chat"], set_=values)
        async with self._transaction() as conn:
            await conn.execute(upsert)

    async def change_policy(
        self,
        chat: ChatKey,
        change: Callable[[ChatPolicy], ChatPolicy | None],
        *,
        private: bool = False,
    ) -> ChatPolicy | None:
        """Apply `change` to the chat's policy atomically; None (nothing saved) if it says so.

        Read, change and write happen in one transaction holding the chat's row (SQLite:
        BEGIN IMMEDIATE, the database's write lock; PostgreSQL: SELECT ... FOR UPDATE on a
        row inserted first if missing), so two admins editing at once, or an action switching
        itself off while an admin edits, each keep their change.
        """
        now = self._clock()
        default = policy_to_json(self._default(private))
        keep_or_create = (
            self._insert(s.chat_policies)
            .values(platform=chat.platform, chat=chat.chat, policy=default, updated_at=now)
            .on_conflict_do_nothing(index_elements=["platform", "chat"])
        )
        where = of_chat(s.chat_policies, chat)
        locked = sa.select(s.chat_policies.c.policy).where(*where).with_for_update()
        async with self._transaction() as conn:
            await conn.execute(keep_or_create)
            changed = change(policy_from_json(await conn.scalar(locked) or default))
            if changed is not None:
                update = sa.update(s.chat_policies).where(*where)
                await conn.execute(update.values(policy=policy_to_json(changed), updated_at=now))
        return changed

    async def claim(self, chat: ChatKey, message: str) -> bool:
        insert = self._insert(s.processed_messages).values(
            platform=chat.platform,
            chat=chat.chat,
            message=stored_key(message),
            seen_at=self._clock(),
        )
        async with self._transaction() as conn:
            result = await conn.execute(insert.on_conflict_do_nothing())
        return bool(result.rowcount == 1)

    async def count_scanned(self, chat: ChatKey, images: int) -> None:
        if images <= 0:
            return
        table = s.scan_counts
        insert = self._insert(table).values(
            platform=chat.platform, chat=chat.chat, day=s.day_of(self._clock()), count=images
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["platform", "chat", "day"], set_={"count": table.c.count + images}
        )
        async with self._transaction() as conn:
            await conn.execute(upsert)

    async def add_flag(self, flag: NewFlag) -> Flag:
        created = self._clock()
        values = {
            "platform": flag.chat.platform,
            "chat": flag.chat.chat,
            "channel": flag.channel,
            "message": flag.message,
            "author": flag.author,
            "sha256": flag.sha256,
            "fake_probability": flag.fake_probability,
            "actions": actions_to_text(flag.actions),
            "status": FlagStatus.OPEN.value,
            "created_at": created,
        }
        async with self._transaction() as conn:
            result = await conn.execute(sa.insert(s.flags).values(**values))
            (flag_id,) = result.inserted_primary_key or (None,)
        if flag_id is None:
            raise RuntimeError("the database returned no id for a new flag; this is a bug")
        return Flag(id=int(flag_id), flag=flag, status=FlagStatus.OPEN, created_at=created)

    async def set_modlog_message(self, flag_id: int, message: str) -> None:
        update = sa.update(s.flags).where(s.flags.c.id == flag_id).values(modlog_message=message)
        async with self._transaction() as conn:
            await conn.execute(update)

    async def get_flag(self, flag_id: int) -> Flag | None:
        if not 0 < flag_id <= FLAG_ID_MAX:
            return None  # the database would refuse the number (a forged button)
        async with self._transaction() as conn:
            row = (await conn.execute(sa.select(s.flags).where(s.flags.c.id == flag_id))).first()
        return None if row is None else flag_from_row(row._mapping)

    async def review(self, flag_id: int, status: FlagStatus, reviewer: str) -> Flag | None:
        if status is FlagStatus.OPEN:
            raise ValueError("a review confirms or dismisses a flag")
        if not 0 < flag_id <= FLAG_ID_MAX:
            return None
        update = (
            sa.update(s.flags)
            .where(s.flags.c.id == flag_id, s.flags.c.status == FlagStatus.OPEN.value)
            .values(status=status.value, reviewer=reviewer, reviewed_at=self._clock())
        )
        async with self._transaction() as conn:
            if (await conn.execute(update)).rowcount != 1:
                return None  # unknown, or another moderator got there first
            row = (await conn.execute(sa.select(s.flags).where(s.flags.c.id == flag_id))).one()
        return flag_from_row(row._mapping)

    async def report(self, flag_id: int) -> bool:
        if not 0 < flag_id <= FLAG_ID_MAX:
            return False  # no such flag: a forged button's id
        update = (
            sa.update(s.flags)
            .where(s.flags.c.id == flag_id, s.flags.c.reported_at.is_(None))
            .values(reported_at=self._clock())
        )
        async with self._transaction() as conn:
            return bool((await conn.execute(update)).rowcount == 1)

    async def stats(self, chat: ChatKey, since: datetime) -> ChatStats:
        """Counts over flags created since `since`; scans counted per UTC day from its day on."""
        counts = s.scan_counts
        scanned = sa.select(sa.func.coalesce(sa.func.sum(counts.c.count), 0)).where(
            *of_chat(counts, chat), counts.c.day >= s.day_of(since)
        )
        by_status = (
            sa.select(s.flags.c.status, sa.func.count())
            .where(*of_chat(s.flags, chat), s.flags.c.created_at >= since)
            .group_by(s.flags.c.status)
        )
        reported = sa.select(sa.func.count()).where(
            *of_chat(s.flags, chat),
            s.flags.c.created_at >= since,
            s.flags.c.reported_at.is_not(None),
        )
        async with self._transaction() as conn:
            images = int(await conn.scalar(scanned) or 0)
            statuses: dict[str, int] = {
                str(status): int(n) for status, n in (await conn.execute(by_status)).all()
            }
            reports = int(await conn.scalar(reported) or 0)
        return ChatStats(
            scanned=images,
            flagged=sum(statuses.values()),
            confirmed=statuses.get(FlagStatus.CONFIRMED.value, 0),
            dismissed=statuses.get(FlagStatus.DISMISSED.value, 0),
            reported=reports,
            extra={"open": statuses.get(FlagStatus.OPEN.value, 0)},
        )

    async def purge(self, now: datetime) -> int:
        cutoff = now - self._retention
        closed = (FlagStatus.CONFIRMED.value, FlagStatus.DISMISSED.value)
        statements = (
            sa.delete(s.processed_messages).where(s.processed_messages.c.seen_at < cutoff),
            sa.delete(s.flags).where(s.flags.c.status.in_(closed), s.flags.c.reviewed_at < cutoff),
            sa.delete(s.scan_counts).where(
                s.scan_counts.c.day < s.day_of(min(cutoff, now - timedelta(STATS_DAYS_KEPT)))
            ),
        )
        async with self._transaction() as conn:
            gone = [(await conn.execute(statement)).rowcount for statement in statements]
        return sum(gone)

    async def forget(self, chat: ChatKey) -> None:
        async with self._transaction() as conn:
            for table in s.CHAT_TABLES:
                await conn.execute(sa.delete(table).where(*of_chat(table, chat)))

    async def move(self, old: ChatKey, new: ChatKey) -> None:
        """Policy, flags and scan counts of `old` now belong to `new` (the chat's id changed).

        The old chat's policy wins over one the new id may already have (moderators chose
        it); daily counts of the same day add up. Processed-message keys stay with the old
        id: they name the old chat's messages, and a new chat's message ids start afresh.
        """
        if old == new:
            return
        counts = s.scan_counts
        merged = self._insert(counts).from_select(
            ["platform", "chat", "day", "count"],
            sa.select(
                sa.literal(new.platform), sa.literal(new.chat), counts.c.day, counts.c.count
            ).where(*of_chat(counts, old)),
        )
        merged = merged.on_conflict_do_update(
            index_elements=["platform", "chat", "day"],
            set_={"count": counts.c.count + merged.excluded.count},
        )
        policies, renamed = s.chat_policies, {"platform": new.platform, "chat": new.chat}
        async with self._transaction() as conn:
            if await conn.scalar(sa.select(policies.c.policy).where(*of_chat(policies, old))):
                await conn.execute(sa.delete(policies).where(*of_chat(policies, new)))
                await conn.execute(
                    sa.update(policies).where(*of_chat(policies, old)).values(renamed)
                )
            await conn.execute(sa.update(s.flags).where(*of_chat(s.flags, old)).values(renamed))
            await conn.execute(merged)
            await conn.execute(sa.delete(counts).where(*of_chat(counts, old)))


def stored_key(key: str) -> str:
    """A processed-message key as indexed: a long one (a link's URL) by its SHA-256.

    The key is part of a primary key, and PostgreSQL refuses index rows past about 2.7 KB.
    """
    if len(key) <= MAX_STORED_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def of_chat(table: sa.Table, chat: ChatKey) -> tuple[sa.ColumnElement[bool], ...]:
    """The WHERE clauses that pick `chat`'s rows of a per-chat table."""
    return (table.c.platform == chat.platform, table.c.chat == chat.chat)


async def purge_regularly(
    store: ModerationStore,
    interval_s: float,
    clock: Clock = utc_now,
) -> None:
    """Purge now and every `interval_s` until cancelled; a failed purge waits for the next turn.

    A database outage (`StoreUnavailable`) is logged once when it starts and once when a purge
    works again, without a traceback; any other failure is a bug, logged with its traceback.
    """
    unreachable = False
    while True:
        try:
            gone = await store.purge(clock())
        except StoreUnavailable:
            if not unreachable:
                log.warning("cannot purge expired moderation data: the database is unreachable")
            unreachable = True
        except Exception:
            log.exception("purging expired moderation data failed; trying again later")
        else:
            if unreachable:
                log.info("purging expired moderation data works again")
            unreachable = False
            if gone:
                log.info("purged %d expired moderation rows", gone)
        await asyncio.sleep(interval_s)
