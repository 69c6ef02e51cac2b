"""Settings of the chat bots: reply wording bands, per-user throttle, Discord and Telegram."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from config.inference import MiB

MIN_WEBHOOK_SECRET = 32
# What Telegram accepts as a webhook secret_token.
_SECRET_CHARACTERS = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ReplySettings(BaseModel):
    """The three bands of the reply wording: likely AI-generated, uncertain, likely real."""

    likely_fake_from: float = Field(
        0.7, ge=0.0, le=1.0, description='From this fake probability the reply says "likely AI".'
    )
    likely_real_below: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description='Below this fake probability the reply says "likely real".',
    )

    @model_validator(mode="after")
    def _bands_in_order(self) -> ReplySettings:
        if self.likely_real_below > self.likely_fake_from:
            raise ValueError("likely_real_below must not exceed likely_fake_from")
        return self


class ThrottleSettings(BaseModel):
    """Per-user token bucket, so one user cannot monopolise the model."""

    burst: int = Field(6, ge=1, description="Images a user may send at once.")
    per_minute: float = Field(12.0, gt=0.0, description="Steady rate refilled per user.")
    # Low on purpose: on Telegram each waiting image holds one of PTB's 256 concurrent updates.
    max_deferred: int = Field(
        10,
        ge=0,
        description="Images of one user waiting for their rate in a moderated chat; more drop.",
    )


class DiscordSettings(BaseModel):
    """The Discord bot; it is off while `token` is unset."""

    token: SecretStr | None = Field(
        None, description="Bot token; unset turns the Discord bot off."
    )
    test_guild_id: int | None = Field(None, description="Sync commands to this guild only.")
    max_images_per_message: int = Field(
        4,
        ge=1,
        description="Images checked in one message where nothing could be flagged (where a "
        "flag could follow, every image is).",
    )
    # Discord's CDN and media proxy, and the proxies it serves previews of other sites from.
    link_hosts: list[str] = Field(
        default_factory=lambda: [
            "cdn.discordapp.com",
            "media.discordapp.net",
            "images-ext-1.discordapp.net",
            "images-ext-2.discordapp.net",
        ],
        description="Hosts whose https links may be fetched (Discord's CDN and image proxies).",
    )
    fetch_timeout_s: float = Field(15.0, gt=0.0, description="Limit on fetching one image link.")
    max_redirects: int = Field(3, ge=0, description="Redirects an image link may take.")
    allow_private_addresses: bool = Field(
        False, description="Tests only: let links reach loopback and private networks."
    )
    defer_when_queue_over: int = Field(4, ge=0, description="Defer slash answers past this depth.")
    answer_within_s: float = Field(
        2.0, gt=0.0, le=2.5, description="Defer a slash answer not ready by then (limit 3 s)."
    )
    allow_http: bool = Field(False, description="Tests only: fetch plain-http links too.")
    cdn_base_url: str = Field(
        "https://cdn.discordapp.com", description="Where sticker images are downloaded from."
    )
    media_base_url: str = Field(
        "https://media.discordapp.net",
        description="Where GIF stickers are downloaded from (Discord's media proxy).",
    )
    muted_channel_s: float = Field(
        600.0, ge=0.0, description="After a 403 on reply, skip that channel this long."
    )
    max_ratelimit_timeout_s: float = Field(
        30.0, ge=30.0, description="Drop a reply rather than wait out a longer rate limit."
    )
    stop_grace_s: float = Field(
        10.0, ge=0.0, description="On stop, time answers in flight get to finish."
    )
    shard_count: int | None = Field(
        None, ge=1, description="Shards across all processes; unset asks Discord how many."
    )
    shard_ids: list[int] | None = Field(
        None, description="Shards this process runs (needs shard_count); unset runs all."
    )

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.token.get_secret_value())

    @model_validator(mode="after")
    def _shards_fit(self) -> DiscordSettings:
        """Catch a bad split across processes at start-up rather than as a gateway error."""
        if self.shard_ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("shard_ids needs shard_count (the total across all processes)")
        outside = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
        if not self.shard_ids or outside or len(set(self.shard_ids)) != len(self.shard_ids):
            raise ValueError(
                f"shard_ids must be distinct numbers from 0 to {self.shard_count - 1}, "
                f"not {self.shard_ids}"
            )
        return self


class TelegramSettings(BaseModel):
    """The Telegram bot; it is off while `token` is unset."""

    token: SecretStr | None = Field(
        None, description="Bot token; unset turns the Telegram bot off."
    )
    base_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API endpoint; your own server lifts 20 MB.",
    )
    base_file_url: str = Field(
        "https://api.telegram.org/file/bot", description="Where files are downloaded from."
    )
    max_file_bytes: int = Field(20 * MiB, ge=1, description="Bot API download limit.")
    mode: Literal["polling", "webhook"] = Field(
        "polling", description="polling, or webhook (needs webhook_url)."
    )
    poll_timeout_s: float = Field(10.0, ge=0.0, description="Long-polling wait for updates.")
    webhook_listen: str = Field(
        "127.0.0.1",
        description="Webhook mode: address to listen on (0.0.0.0 for every interface, when no "
        "reverse proxy on this host forwards to it).",
    )
    webhook_port: int = Field(8443, ge=1, le=65535, description="Webhook mode: port to listen on.")
    webhook_path: str = Field("telegram", description="Webhook mode: URL path of the endpoint.")
    webhook_url: str | None = Field(None, description="Public URL Telegram posts updates to.")
    webhook_secret: SecretStr | None = Field(
        None,
        description="Webhook mode (required there): at least 32 random characters of A-Z, a-z, "
        "0-9, _ and -, which Telegram sends back in a header so forged updates are refused.",
    )
    album_wait_s: float = Field(1.0, ge=0.0, description="Wait for the rest of an album.")
    max_retries: int = Field(
        3,
        ge=0,
        description="Retries of a call Telegram flood-limited (RetryAfter) before giving up.",
    )
    download_timeout_s: float = Field(30.0, gt=0.0, description="Read timeout of a file download.")
    stop_grace_s: float = Field(
        6.0, ge=0.0, description="On stop, time updates in flight get to be answered."
    )

    @property
    def enabled(self) -> bool:
        return bool(self.token and self.token.get_secret_value())

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> TelegramSettings:
        """Without a secret anyone who reaches the port could post forged updates."""
        if self.mode != "webhook":
            return self
        if not self.webhook_url:
            raise ValueError("webhook mode needs DEEPGUARD_TELEGRAM__WEBHOOK_URL")
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if len(secret) < MIN_WEBHOOK_SECRET or not _SECRET_CHARACTERS.fullmatch(secret):
            raise ValueError(
                "webhook mode needs DEEPGUARD_TELEGRAM__WEBHOOK_SECRET: at least "
                f"{MIN_WEBHOOK_SECRET} random characters of A-Z, a-z, 0-9, _ and -, for example "
                "from: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self
