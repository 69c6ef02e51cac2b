"""Start the bots whose tokens are set, sharing one Detector, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AbstractAsyncContextManager

from sqlalchemy import make_url

from bots.health import heartbeat
from bots.redact import install_redaction
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


async def run(settings: Settings) -> None:
    """Load the model (or use the remote core), start the bots, stop them cleanly on a signal."""
    if not (settings.discord.enabled or settings.telegram.enabled):
        raise NoBotConfigured(f"no bot token is set; set {' or '.join(TOKEN_VARIABLES)}")
    install_redaction(secrets_of(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    moderation = settings.moderation
    # The database first: a wrong URL fails in a second, not after the model has loaded.
    async with open_store(settings) as store, _open_judge(settings) as detector:
        chores = [
            asyncio.create_task(heartbeat(settings.health_file), name="heartbeat"),
            asyncio.create_task(
                purge_regularly(store, moderation.purge_interval_h * 3600), name="purge"
            ),
        ]
        try:
            await serve(settings, detector, stop, store)
        finally:
            for chore in chores:
                chore.cancel()
            await asyncio.gather(*chores, return_exceptions=True)


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
            from bots.telegram import bot as telegram_bot

            group.create_task(
                telegram_bot.run(settings, detector, stop, store=store), name="telegram"
            )
        if settings.discord.enabled:
            from bots.discord import bot as discord_bot

            group.create_task(
                discord_bot.run(settings, detector, stop, store=store), name="discord"
            )
    log.info("bots stopped")
