"""One `Settings` object, grouped by the part of DeepGuard that reads it.

Every field is an environment variable: `DEEPGUARD_` + group + `__` + field, e.g.
`DEEPGUARD_QUEUE__MAX_BATCH_SIZE=8`. A `.env` file in the working directory is read too.
`main()` builds `Settings` once and hands each part only its own group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "DEEPGUARD_"
NESTED_DELIMITER = "__"
MiB = 1024 * 1024


class ModelSettings(BaseModel):
    """Which classifier to load and how to run it."""

    name: str = Field(
        "king1oo1/deepfake-model",
        description="Hugging Face hub id or a local directory holding config and weights.",
    )
    revision: str | None = Field(None, description="Hub branch, tag or commit to pin.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the model runs; auto takes a GPU when there is one."
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="Intra-op threads (torch and ONNX Runtime); default all usable cores.",
    )
    offline: bool = Field(False, description="Never contact the hub; use the local cache only.")
    cache_dir: Path | None = Field(None, description="Where hub downloads are kept.")
    fake_label: str | None = Field(
        None, description="Name in id2label of the fake class, when its name is not recognised."
    )
    threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Fake probability at which the verdict is FAKE."
    )
    backend: Literal["torch", "torch-int8", "onnx", "onnx-int8"] = Field(
        "torch",
        description="torch (exact), torch-int8 (dynamic int8 Linear layers), onnx or "
        "onnx-int8 (ONNX Runtime; exported once and cached, needs the onnx extra).",
    )
    dtype: Literal["float32", "float16", "bfloat16"] = Field(
        "float32", description="Weights' type on CUDA with the torch backend; CPU stays float32."
    )
    onnx_cache_dir: Path | None = Field(
        None, description="Where exported ONNX models are kept; default beside the weights."
    )


class QueueSettings(BaseModel):
    """Micro-batching: how long a request may wait to share a batch, and how many may wait."""

    max_batch_size: int = Field(8, ge=1, description="Most images run through the model at once.")
    max_wait_ms: float = Field(
        10.0, ge=0.0, description="Longest a request waits for others to share its batch."
    )
    max_pending: int = Field(64, ge=1, description="Queued requests before new ones are refused.")
    request_timeout_s: float = Field(
        30.0, gt=0.0, description="A request not judged by then fails with a timeout."
    )
    drain_timeout_s: float = Field(8.0, ge=0.0, description="Time to finish queued work on exit.")
    cache_size: int = Field(1024, ge=0, description="Results kept by SHA-256; 0 turns it off.")
    decode_workers: int = Field(2, ge=1, description="Threads that decode images.")
    near_duplicate_distance: int | None = Field(
        None,
        ge=0,
        le=32,
        description="Answer an image from the cache when its perceptual hash is within "
        "this many bits (of 64) of one already judged; unset turns it off.",
    )


class ImageLimits(BaseModel):
    """What an upload may be before it is refused without decoding."""

    max_bytes: int = Field(25 * MiB, ge=1, description="Largest upload, in bytes.")
    max_pixels: int = Field(
        40_000_000, ge=1, description="Most pixels, checked from the header before decoding."
    )
    max_side: int = Field(16_384, ge=1, description="Longest side, in pixels.")
    fast_decode: bool = Field(
        False,
        description="Decode JPEGs at a reduced scale (at least twice the model's input "
        "size): several times faster, pixels change slightly.",
    )


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
    max_images_per_message: int = Field(4, ge=1, description="Images checked in one message.")
    link_hosts: list[str] = Field(
        default_factory=lambda: ["cdn.discordapp.com", "media.discordapp.net"],
        description="Hosts whose https links may be fetched.",
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
    webhook_listen: str = Field("0.0.0.0", description="Webhook mode: address to listen on.")
    webhook_port: int = Field(8443, ge=1, le=65535, description="Webhook mode: port to listen on.")
    webhook_path: str = Field("telegram", description="Webhook mode: URL path of the endpoint.")
    webhook_url: str | None = Field(None, description="Public URL Telegram posts updates to.")
    webhook_secret: SecretStr | None = Field(
        None, description="Webhook mode: secret Telegram sends back in a header."
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


class ServeSettings(BaseModel):
    """`deepguard serve`: the HTTP inference API that many bot processes can share."""

    host: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 in a container.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on; 0 picks a free one.")
    token: SecretStr | None = Field(
        None, description="Bearer token clients must send; unset means no authentication."
    )
    max_in_flight: int = Field(
        128, ge=1, description="Requests read or judged at once; more are refused with 429."
    )
    retry_after_s: int = Field(1, ge=1, description="Retry-After sent with a 429 or 503.")
    ready_queue_fill: float = Field(
        0.9, gt=0.0, le=1.0, description="/readyz fails once the queue is this full."
    )
    drain_timeout_s: float = Field(
        10.0, ge=0.0, description="On stop, time requests in flight get to be answered."
    )
    ray_address: str | None = Field(
        None, description="`--ray`: cluster to join (e.g. auto); unset starts a local one."
    )
    ray_min_replicas: int = Field(1, ge=0, description="`--ray`: fewest replicas kept.")
    ray_max_replicas: int = Field(2, ge=1, description="`--ray`: most replicas started.")
    ray_target_ongoing_requests: float = Field(
        8.0, gt=0.0, description="`--ray`: requests per replica the autoscaler aims for."
    )
    ray_max_ongoing_requests: int = Field(
        32, ge=1, description="`--ray`: requests one replica takes at once."
    )
    ray_max_queued_requests: int = Field(
        64, ge=-1, description="`--ray`: requests queued before Ray answers 503; -1 no limit."
    )
    ray_cpus_per_replica: float = Field(1.0, ge=0.0, description="`--ray`: CPUs per replica.")
    ray_gpus_per_replica: float = Field(0.0, ge=0.0, description="`--ray`: GPUs per replica.")

    @model_validator(mode="after")
    def _replicas_in_order(self) -> ServeSettings:
        if self.ray_min_replicas > self.ray_max_replicas:
            raise ValueError("ray_min_replicas must not exceed ray_max_replicas")
        return self


class RemoteSettings(BaseModel):
    """How bots talk to a remote inference API (`DEEPGUARD_CORE_URL`)."""

    timeout_s: float = Field(40.0, gt=0.0, description="Limit on one attempt, answer included.")
    connect_timeout_s: float = Field(5.0, gt=0.0, description="Limit on opening a connection.")
    retries: int = Field(3, ge=0, description="Retries after a 429, a 503 or a failed connect.")
    max_retry_wait_s: float = Field(
        5.0, ge=0.0, description="Longest wait before one retry, Retry-After included."
    )
    connections: int = Field(32, ge=1, description="Connections kept open to the API.")


class ModerationSettings(BaseModel):
    """What the bots keep about moderation in the database, and for how long."""

    retention_days: int = Field(
        30,
        ge=1,
        description="Days processed-message keys and reviewed flags are kept before purging.",
    )
    purge_interval_h: float = Field(6.0, gt=0.0, description="Hours between two purges.")


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
    """Turn a pydantic error location into the variable a user sets."""
    return ENV_PREFIX + NESTED_DELIMITER.join(str(part).upper() for part in loc)


def load_settings(env_file: Path | str | None = ".env") -> Settings:
    """Read settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        lines = [f"{env_name(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
