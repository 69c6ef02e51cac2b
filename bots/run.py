"""What `deepguard run` and `deepguard serve` share as processes, and the start of the bots.

Both run inside `process()`: secrets redacted from every log record, SIGTERM and SIGINT turned
into a stop event, and a heartbeat file for the container's health check (the bots have no port
to probe; `deepguard health` passes while the file is fresh, so a wedged loop is restarted).
`run` then starts the bots whose tokens are set, sharing one judge; `serve` the inference API.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from config import Settings
from core.detector import Detector, Judge
from core.moderation.retention import purge_regularly
from core.moderation.store import SqlStore
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)


TOKEN_VARIABLES = ("DEEPGUARD_DISCORD__TOKEN", "DEEPGUARD_TELEGRAM__TOKEN")


class NoBotConfigured(Exception):
    """Neither bot has a token, so there is nothing to run."""


def secrets_of(settings: Settings) -> list[str]:
    tokens = [
        token.get_secret_value()
        for token in (settings.discord.token, settings.telegram.token, settings.core_token)
        if token is not None
    ]
    database_password = make_url(settings.database_url).password
    return [*tokens, str(database_password)] if database_password else tokens


@asynccontextmanager
async def process(health_file: Path, secrets: Iterable[str]) -> AsyncIterator[asyncio.Event]:
    """Redact `secrets`, beat the heartbeat, and yield the event that SIGTERM or SIGINT sets."""
    undo = install_redaction(secrets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    beat = asyncio.create_task(heartbeat(health_file), name="heartbeat")
    try:
        yield stop
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
        for signum in signals:
            loop.remove_signal_handler(signum)
        undo()


async def run(settings: Settings) -> None:
    """Load the model (or use the remote core), start the bots, stop them cleanly on a signal."""
    if not (settings.discord.enabled or settings.telegram.enabled):
        raise NoBotConfigured(f"no bot token is set; set {' or '.join(TOKEN_VARIABLES)}")
    # The database before the model: a wrong URL fails in a second, not after the model loaded.
    async with (
        process(settings.health_file, secrets_of(settings)) as stop,
        open_store(settings) as store,
        _open_judge(settings) as detector,
    ):
        purge = asyncio.create_task(
            purge_regularly(store, settings.moderation.purge_interval_h * 3600), name="purge"
        )
        try:
            await serve(settings, detector, stop, store)
        finally:
            purge.cancel()
            await asyncio.gather(purge, return_exceptions=True)


async def serve_api(settings: Settings) -> None:
    """Serve the inference API with the configured model until SIGTERM or SIGINT."""
    from api import server

    token = settings.serve.token
    secrets = [token.get_secret_value()] if token is not None else []
    async with process(settings.health_file, secrets) as stop:
        await server.serve(
            settings, stop, lambda: Detector.open(settings.model, settings.queue, settings.images)
        )


def open_store(
    settings: Settings, url: str | None = None
) -> AbstractAsyncContextManager[SqlStore]:
    """The moderation store (at `url`, else the configured one).

    A chat nobody configured starts with the operator's reply bands: its flag threshold is
    where replies start saying "likely AI-generated", its uncertain band where "likely real" ends.
    """
    bands = settings.replies
    return SqlStore.open(
        url or settings.database_url,
        retention_days=settings.moderation.retention_days,
        threshold=bands.likely_fake_from,
        uncertain_from=bands.likely_real_below,
    )


def _open_judge(settings: Settings) -> AbstractAsyncContextManager[Judge]:
    """The remote core when `DEEPGUARD_CORE_URL` is set (no model here), else a local model."""
    if settings.core_url:
        from api.client import RemoteDetector

        token = settings.core_token.get_secret_value() if settings.core_token else None
        return RemoteDetector(settings.core_url, settings.remote, token=token)
    return Detector.open(settings.model, settings.queue, settings.images)


async def serve(
    settings: Settings, detector: Judge, stop: asyncio.Event, store: ModerationStore
) -> None:
    """Run each configured adapter until `stop` is set; one failing stops the others."""
    # Imported here so that `deepguard check` and a one-platform install load one client only.
    async with asyncio.TaskGroup() as group:
        if settings.telegram.enabled:
            from bots.telegram import application as telegram_app

            group.create_task(
                telegram_app.run(settings, detector, stop, store=store), name="telegram"
            )
        if settings.discord.enabled:
            from bots.discord import client as discord_client

            group.create_task(
                discord_client.run(settings, detector, stop, store=store), name="discord"
            )
    log.info("bots stopped")


INTERVAL_S = 15.0


MAX_AGE_S = 60.0


async def heartbeat(path: Path, interval_s: float = INTERVAL_S) -> None:
    """Touch `path` every `interval_s` until cancelled, then remove it."""
    try:
        while True:
            await asyncio.to_thread(path.touch)
            await asyncio.sleep(interval_s)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


def is_alive(path: Path, max_age_s: float = MAX_AGE_S, now: float | None = None) -> bool:
    """True while the heartbeat file was touched within `max_age_s`."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age <= max_age_s


MASK = "[REDACTED]"


def install_redaction(secrets: Iterable[str]) -> Callable[[], None]:
    """Wrap the log-record factory so each record's text is redacted; returns an undo."""
    words = sorted({s for s in secrets if s}, key=len, reverse=True)
    previous = logging.getLogRecordFactory()
    if not words:
        return lambda: None
    formatter = logging.Formatter()

    def redact(text: str) -> str:
        for word in words:
            text = text.replace(word, MASK)
        return text

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    return lambda: logging.setLogRecordFactory(previous)
