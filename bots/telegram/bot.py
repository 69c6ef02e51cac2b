"""The Telegram adapter: python-telegram-bot, started by hand inside DeepGuard's event loop.

`run_polling()` would own the loop and its signals; `deepguard run` shares one loop and one
Detector between both bots, so the Application is started and stopped step by step here
(`bots.telegram.app` builds it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from pydantic import SecretStr
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Updater

from bots.delivery import InFlight
from bots.run import install_redaction
from bots.telegram.app import (
    TelegramApp,
    announce_commands,
    build_application,
    build_handlers,
    initialize,
)
from config import Settings, TelegramSettings
from core.detector import Judge
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]


async def run(
    settings: Settings, detector: Judge, stop: asyncio.Event, *, store: ModerationStore
) -> None:
    """Serve Telegram until `stop` is set, then answer the updates in flight and return."""
    telegram = settings.telegram
    token = _secret(telegram.token)
    if not token:
        raise ValueError("DEEPGUARD_TELEGRAM__TOKEN is not set")
    if telegram.mode == "webhook" and not telegram.webhook_url:
        raise ValueError("webhook mode needs DEEPGUARD_TELEGRAM__WEBHOOK_URL")
    # `deepguard run` redacts already; this covers other callers (tests, embedding) too.
    undo_redaction = _redact([token, _secret(telegram.webhook_secret)])
    try:
        inflight = InFlight()
        handlers = build_handlers(settings, detector, store, inflight)
        app = build_application(telegram, token, handlers, store)
        await initialize(app)
        try:
            await announce_commands(app)
            await _serve(app, telegram, inflight, stop)
        finally:
            await app.shutdown()
    finally:
        undo_redaction()


async def _serve(
    app: TelegramApp, telegram: TelegramSettings, inflight: InFlight, stop: asyncio.Event
) -> None:
    updater = app.updater
    if updater is None:
        raise RuntimeError("the Application was built without an Updater; this is a bug")
    await app.start()
    try:
        await _listen(updater, telegram)
        log.info("telegram bot @%s is up (%s)", app.bot.username, telegram.mode)
        await stop.wait()
        log.info("telegram bot stopping")
    finally:
        if updater.running:
            await updater.stop()
        await _drain(app, inflight, telegram.stop_grace_s)


async def _listen(updater: Updater, telegram: TelegramSettings) -> None:
    """Start receiving updates the way `telegram.mode` says."""
    if telegram.mode == "webhook":
        await updater.start_webhook(
            listen=telegram.webhook_listen,
            port=telegram.webhook_port,
            url_path=telegram.webhook_path,
            webhook_url=telegram.webhook_url,
            allowed_updates=ALLOWED_UPDATES,
            secret_token=_secret(telegram.webhook_secret) or None,
        )
    else:
        await updater.start_polling(
            timeout=timedelta(seconds=telegram.poll_timeout_s),
            allowed_updates=ALLOWED_UPDATES,
            error_callback=_polling_failed,
        )


async def _drain(app: TelegramApp, inflight: InFlight, grace_s: float) -> None:
    """Let the updates in flight be answered; cancel those still running after `grace_s`."""
    stopping = asyncio.ensure_future(app.stop())
    done, _ = await asyncio.wait({stopping}, timeout=grace_s)
    if not done:
        cancelled = inflight.cancel_all()
        log.warning("telegram stop: cancelled %d updates still in flight", cancelled)
    await stopping


def _polling_failed(error: TelegramError) -> None:
    """PTB retries polling with a backoff; an outage is one line per try, not a traceback."""
    log.warning("polling Telegram failed, retrying: %s", error)


def _redact(secrets: Iterable[str]) -> Callable[[], None]:
    """Install redaction; the undo is skipped if another wrapper was installed on top since."""
    undo = install_redaction(secrets)
    ours = logging.getLogRecordFactory()

    def restore() -> None:
        if logging.getLogRecordFactory() is ours:
            undo()

    return restore


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""
