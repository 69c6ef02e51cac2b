"""The Telegram bot: python-telegram-bot's Application with DeepGuard's handlers, started by
hand inside DeepGuard's event loop, and `run()` until a stop.

`run_polling()` would own the loop and its signals; `deepguard run` shares one loop and one
Detector between both bots, so the Application is started and stopped step by step here.
Updates are handled concurrently, so images from many chats can share a model batch, and PTB's
rate limiter turns Telegram's flood limits (`RetryAfter`) into a delay instead of a lost reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ExtBot,
    MessageHandler,
    Updater,
    filters,
)

from bots.delivery import InFlight, SeenMessages
from bots.i18n import Catalogs
from bots.pipeline import Pipeline
from bots.run import install_redaction
from bots.telegram.handlers import Context, TelegramHandlers
from bots.telegram.languages import Languages, announce_commands
from bots.telegram.media import Albums
from bots.telegram.settings import moderation_handlers
from bots.telegram.why import WHY_PATTERN, WhyButton
from bots.throttle import Throttle
from config import Settings, TelegramSettings
from core.backlog import Backlog
from core.detector import Judge
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)

_Data = dict[Any, Any]
TelegramApp = Application[ExtBot[int], Context, _Data, _Data, _Data, None]
# Photos, files, still and video stickers, GIFs (sent as MP4 animations), videos, video notes.
IMAGES = (
    filters.PHOTO
    | filters.Document.ALL
    | filters.Sticker.STATIC
    | filters.Sticker.VIDEO
    | filters.ANIMATION
    | filters.VIDEO
    | filters.VIDEO_NOTE
)
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]


async def run(
    settings: Settings,
    detector: Judge,
    stop: asyncio.Event,
    *,
    store: ModerationStore,
    catalogs: Catalogs,
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
        inflight, throttle = InFlight(), Throttle(settings.throttle)
        handlers = build_handlers(settings, detector, store, inflight, catalogs, throttle)
        why = WhyButton(detector, throttle, telegram, inflight, handlers.languages)
        app = build_application(telegram, token, handlers, store, why)
        await initialize(app)
        try:
            await announce_commands(app.bot, catalogs)
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


def build_handlers(
    settings: Settings,
    detector: Judge,
    store: ModerationStore,
    inflight: InFlight,
    catalogs: Catalogs,
    throttle: Throttle | None = None,
) -> TelegramHandlers:
    """The handlers and everything they share, built once for one run."""
    pipeline = Pipeline(
        detector,
        store,
        throttle or Throttle(settings.throttle),
        SeenMessages(),
        catalogs,
        bands=settings.replies,
        burst=settings.throttle.burst,
        retention=timedelta(days=settings.moderation.retention_days),
        backlog=Backlog(settings.queue.max_admitted),
        declared_ai_is_fake=settings.provenance.declared_ai_is_fake,
    )
    telegram = settings.telegram
    languages = Languages(catalogs, store, pipeline.outage)
    return TelegramHandlers(
        pipeline, store, Albums(telegram.album_wait_s), inflight, telegram, languages
    )


def build_application(
    telegram: TelegramSettings,
    token: str,
    handlers: TelegramHandlers,
    store: ModerationStore,
    why: WhyButton | None = None,
) -> TelegramApp:
    """The PTB Application with DeepGuard's handlers, pointed at `base_url`.

    `why` answers the "Why?" button; it comes before the moderation buttons, whose last
    handler takes every press left over.
    """
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(telegram.base_url)
        .base_file_url(telegram.base_file_url)
        .concurrent_updates(True)  # one update at a time would defeat the Detector's batching
        .rate_limiter(AIORateLimiter(max_retries=telegram.max_retries))
        .job_queue(None)
        .build()
    )
    only_new = filters.UpdateType.MESSAGE  # an edited command is not a new request
    app.add_handler(CommandHandler(["start", "help"], handlers.on_help, only_new))
    app.add_handler(CommandHandler("check", handlers.on_check, only_new))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGES & IMAGES, handlers.on_image))
    if why is not None:
        app.add_handler(CallbackQueryHandler(why.on_press, WHY_PATTERN))
    app.add_handlers(moderation_handlers(store, handlers.languages, handlers.outage))
    app.add_error_handler(handlers.on_error)
    return app


async def initialize(app: TelegramApp) -> None:
    """Check the token with getMe; PTB's own error for a rejected one quotes the token."""
    try:
        await app.initialize()
    except BaseException as exc:
        await app.bot.shutdown()  # Application.shutdown() skips a half-initialized app
        if isinstance(exc, InvalidToken):
            raise InvalidToken("Telegram rejected DEEPGUARD_TELEGRAM__TOKEN") from None
        raise
