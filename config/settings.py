"""One `Settings` object, grouped by the part of DeepGuard that reads it.

Every field is an environment variable: `DEEPGUARD_` + group + `__` + field, e.g.
`DEEPGUARD_QUEUE__MAX_BATCH_SIZE=8`. A `.env` file in the working directory is read too.
`main()` builds `Settings` once and hands each part only its own group.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.chat import DiscordSettings, ReplySettings, TelegramSettings, ThrottleSettings
from config.inference import (
    ImageLimits,
    ModelSettings,
    ProvenanceSettings,
    QueueSettings,
    VideoSettings,
)
from config.service import ModerationSettings, RemoteSettings, ServeSettings

__all__ = [
    "ENV_PREFIX",
    "NESTED_DELIMITER",
    "Settings",
    "SettingsError",
    "env_name",
    "load_settings",
]

ENV_PREFIX = "DEEPGUARD_"
NESTED_DELIMITER = "__"


_URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^@/\s]*@")
_ASYNC_DRIVERS = (
    ("sqlite:", "sqlite+aiosqlite:"),
    ("postgresql:", "postgresql+asyncpg:"),
    ("postgres:", "postgresql+asyncpg:"),
)


class Settings(BaseSettings):
    """Everything DeepGuard reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    model: ModelSettings = ModelSettings()
    queue: QueueSettings = QueueSettings()
    images: ImageLimits = ImageLimits()
    provenance: ProvenanceSettings = ProvenanceSettings()
    video: VideoSettings = VideoSettings()
    replies: ReplySettings = ReplySettings()
    throttle: ThrottleSettings = ThrottleSettings()
    discord: DiscordSettings = DiscordSettings()
    telegram: TelegramSettings = TelegramSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR."
    )
    health_file: Path = Field(
        Path("/tmp/deepguard-alive"),
        description="Touched while `deepguard run` is alive; `deepguard health` checks it.",
    )
    serve: ServeSettings = ServeSettings()
    remote: RemoteSettings = RemoteSettings()
    core_url: str | None = Field(
        None,
        description="A `deepguard serve` (or `serve --ray`) URL: bots judge images there "
        "instead of loading a model.",
    )
    core_token: SecretStr | None = Field(None, description="Bearer token for `core_url`.")
    moderation: ModerationSettings = ModerationSettings()
    database_url: str = Field(
        "sqlite+aiosqlite:///deepguard.db",
        description="Moderation database: a SQLite file, or "
        "postgresql+asyncpg://user:password@host/db for several bot processes.",
    )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """As pydantic's, with the database password masked (its URL is a plain string)."""
        for name, value in super().__repr_args__():
            if name == "database_url" and isinstance(value, str):
                value = _URL_PASSWORD.sub(r"\1***@", value)
            yield name, value

    @field_validator("core_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if not url:
            return None
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        """Accept the usual spellings and pick the async driver SQLAlchemy needs."""
        for plain, driver in _ASYNC_DRIVERS:
            if url.startswith(plain):
                return driver + url[len(plain) :]
        if not url.startswith(tuple(driver for _, driver in _ASYNC_DRIVERS)):
            raise ValueError("must be a sqlite+aiosqlite:/// or postgresql+asyncpg:// URL")
        return url


class SettingsError(Exception):
    """Settings that fail validation, each problem named by its environment variable."""


def env_name(loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into the variable a user sets (not its item's index)."""
    names = (str(part).upper() for part in loc if not isinstance(part, int))
    return ENV_PREFIX + NESTED_DELIMITER.join(names)


def load_settings(
    env_file: Path | str | None = ".env", *, model: Mapping[str, object] | None = None
) -> Settings:
    """Read settings, turning pydantic's report into one line per bad variable.

    `model` overrides model fields (command-line options) before validation, so they are
    checked together with the environment (a list of models against its weights).
    """
    try:
        if model:
            return Settings(_env_file=env_file, model=dict(model))
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        lines = [f"{env_name(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
