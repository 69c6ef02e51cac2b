"""Settings of the shared service: the HTTP API, bots' remote client and moderation storage."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, model_validator


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
    read_timeout_s: float = Field(
        30.0, gt=0.0, description="Time a request body gets to arrive whole; later is a 408."
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
