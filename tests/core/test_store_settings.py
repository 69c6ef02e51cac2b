"""The database URL and moderation settings: usual URL spellings get the async driver."""

from __future__ import annotations

import pytest

from config import Settings


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///data/deepguard.db", "sqlite+aiosqlite:///data/deepguard.db"),
        ("sqlite+aiosqlite:///deepguard.db", "sqlite+aiosqlite:///deepguard.db"),
        ("postgresql://u:p@db/deepguard", "postgresql+asyncpg://u:p@db/deepguard"),
        ("postgres://u:p@db/deepguard", "postgresql+asyncpg://u:p@db/deepguard"),
        ("postgresql+asyncpg://u:p@db:5432/x", "postgresql+asyncpg://u:p@db:5432/x"),
    ],
)
def test_database_url_gets_an_async_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, used: str
) -> None:
    """A plain sqlite:// or postgres(ql):// URL is given the async driver SQLAlchemy needs."""
    monkeypatch.setenv("DEEPGUARD_DATABASE_URL", given)
    assert Settings(_env_file=None).database_url == used


@pytest.mark.parametrize(
    "url", ["mysql://u:p@db/x", "postgresql+psycopg2://u@db/x", "deepguard.db"]
)
def test_other_databases_are_refused(url: str) -> None:
    """Only SQLite and PostgreSQL (with their async drivers) are accepted."""
    with pytest.raises(ValueError, match="postgresql\\+asyncpg"):
        Settings(_env_file=None, database_url=url)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default a SQLite file in the working directory, purged of 30-day-old data every 6 h."""
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///deepguard.db"
    assert settings.moderation.retention_days == 30
    assert settings.moderation.purge_interval_h == 6.0
    monkeypatch.setenv("DEEPGUARD_MODERATION__RETENTION_DAYS", "7")
    assert Settings(_env_file=None).moderation.retention_days == 7
