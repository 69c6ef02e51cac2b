"""The purge loop `deepguard run` starts, and the database password kept out of logs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from bots import run as app
from config import Settings
from core.errors import StoreUnavailable
from core.moderation.store import purge_regularly

NOW = datetime(2025, 3, 10, tzinfo=UTC)


class PurgeRecorder:
    """Just enough of a store: records purges, fails the ones it is told to."""

    def __init__(
        self, failures: int = 0, rows: int = 3, error: Exception | None = None, until: int = 3
    ) -> None:
        self.calls: list[datetime] = []
        self.failures = failures
        self.error = error or OSError("database went away")
        self.until = until
        self.rows = rows
        self.third = asyncio.Event()

    async def purge(self, now: datetime) -> int:
        self.calls.append(now)
        if len(self.calls) == self.until:
            self.third.set()
        if len(self.calls) <= self.failures:
            raise self.error
        return self.rows


async def run_until_last_purge(store: PurgeRecorder) -> None:
    task = asyncio.create_task(purge_regularly(store, 0, clock=lambda: NOW))  # type: ignore[arg-type]
    await store.third.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_purges_at_once_and_again(caplog: pytest.LogCaptureFixture) -> None:
    """The loop purges with the clock's time straight away and keeps purging."""
    store = PurgeRecorder()
    with caplog.at_level(logging.INFO, logger="core.moderation.store"):
        await run_until_last_purge(store)
    assert store.calls[:3] == [NOW, NOW, NOW]
    assert "purged 3 expired moderation rows" in caplog.text


async def test_a_failed_purge_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    """A purge that fails is logged with its traceback and the loop carries on."""
    store = PurgeRecorder(failures=2)
    await run_until_last_purge(store)
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 2
    assert all(r.exc_info for r in failures)


def test_database_password_is_redacted() -> None:
    """The password in DEEPGUARD_DATABASE_URL is one of the secrets kept out of logs."""
    settings = Settings(
        _env_file=None, database_url="postgresql+asyncpg://deepguard:pa55-word@db/deepguard"
    )
    assert app.secrets_of(settings) == ([], ["pa55-word"])


async def test_an_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    """Five purges the unreachable database refuses make one warning without a traceback, and
    the first purge that works again says so; no error is logged."""
    store = PurgeRecorder(failures=5, error=StoreUnavailable(), until=7)
    with caplog.at_level(logging.INFO, logger="core.moderation.store"):
        await run_until_last_purge(store)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "cannot purge expired moderation data: the database is unreachable"
    ]
    assert warnings[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "purging expired moderation data works again" in caplog.text
