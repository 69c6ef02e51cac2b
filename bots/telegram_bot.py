"""The Telegram adapter: python-telegram-bot, started by hand inside DeepGuard's event loop.

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
from telegram import BotCommand, BotCommandScopeAllChatAdministrators, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CommandHandler,
    ExtBot,
    MessageHandler,
    filters,
)

from bots import mod_replies, replies
from bots.dedupe import SeenMessages
from bots.redact import install_redaction
from bots.telegram_albums import Albums
from bots.telegram_answers import Answers
from bots.telegram_handlers import Context, TelegramHandlers
from bots.telegram_inflight import InFlight
from bots.telegram_mod import Moderator
from bots.telegram_mod_commands import moderation_handlers
from bots.throttle import Throttle
from config import Settings, TelegramSettings
from core import Judge
from core.moderation import ModerationStore

log = logging.getLogger(__name__)

_Data = dict[Any, Any]
TelegramApp = Application[ExtBot[int], Context, _Data, _Data, _Data, None]
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]
IMAGES = filters.PHOTO | filters.Document.ALL | filters.Sticker.STATIC


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
        inflight, moderator = InFlight(), Moderator(store)
        handlers = TelegramHandlers(
            Answers(detector, moderator, telegram, settings.replies),
            moderator,
            Throttle(settings.throttle),
            SeenMessages(),
            Albums(telegram.album_wait_s),
            inflight,
            telegram.max_file_bytes,
        )
        app = build_application(telegram, token, handlers, store)
        await _initialize(app)
        try:
            await _announce_commands(app)
            await _serve(app, telegram, inflight, stop)
        finally:
            await app.shutdown()
    finally:
        undo_redaction()


def build_application(
    telegram: TelegramSettings, token: str, handlers: TelegramHandlers, store: ModerationStore
) -> TelegramApp:
    """The PTB Application with DeepGuard's handlers, pointed at `base_url`."""
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
    app.add_handlers(moderation_handlers(store))
    app.add_error_handler(handlers.on_error)
    return app


async def _serve(
    app: TelegramApp, telegram: TelegramSettings, inflight: InFlight, stop: asyncio.Event
) -> None:
    updater = app.updater
    if updater is None:
        raise RuntimeError("the Application was built without an Updater; this is a bug")
    await app.start()
    try:
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
        log.info("telegram bot @%s is up (%s)", app.bot.username, telegram.mode)
        await stop.wait()
        log.info("telegram bot stopping")
    finally:
        if updater.running:
            await updater.stop()
        await _drain(app, inflight, telegram.stop_grace_s)


async def _drain(app: TelegramApp, inflight: InFlight, grace_s: float) -> None:
    """Let the updates in flight be answered; cancel those still running after `grace_s`."""
    stopping = asyncio.ensure_future(app.stop())
    done, _ = await asyncio.wait({stopping}, timeout=grace_s)
    if not done:
        cancelled = inflight.cancel_all()
        log.warning("telegram stop: cancelled %d updates still in flight", cancelled)
    await stopping


async def _initialize(app: TelegramApp) -> None:
    """Check the token with getMe; PTB's own error for a rejected one quotes the token."""
    try:
        await app.initialize()
    except BaseException as exc:
        await app.bot.shutdown()  # Application.shutdown() skips a half-initialized app
        if isinstance(exc, InvalidToken):
            raise InvalidToken("Telegram rejected DEEPGUARD_TELEGRAM__TOKEN") from None
        raise


async def _announce_commands(app: TelegramApp) -> None:
    """Fill Telegram's command menus (administrators also see moderation); failures cost a menu."""
    commands = [BotCommand(name, text) for name, text in replies.COMMAND_DESCRIPTIONS.items()]
    admin = [BotCommand(n, t) for n, t in mod_replies.ADMIN_COMMAND_DESCRIPTIONS.items()]
    try:
        await app.bot.set_my_commands(commands)
        await app.bot.set_my_commands(commands + admin, BotCommandScopeAllChatAdministrators())
    except TelegramError as exc:
        log.warning("could not set the telegram command menu: %s", exc)


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
