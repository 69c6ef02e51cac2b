"""The python-telegram-bot Application with DeepGuard's handlers, and its start-up checks.

Updates are handled concurrently, so images from many chats can share a model batch, and PTB's
rate limiter turns Telegram's flood limits (`RetryAfter`) into a delay instead of a lost reply.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeAllChatAdministrators
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

from bots import replies
from bots.delivery import InFlight, SeenMessages
from bots.telegram.albums import Albums
from bots.telegram.answers import Answers
from bots.telegram.handlers import Context, TelegramHandlers
from bots.telegram.mod import Moderator
from bots.telegram.mod_commands import moderation_handlers
from bots.throttle import Throttle
from config import Settings, TelegramSettings
from core.detector import Judge
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)

_Data = dict[Any, Any]
TelegramApp = Application[ExtBot[int], Context, _Data, _Data, _Data, None]
IMAGES = filters.PHOTO | filters.Document.ALL | filters.Sticker.STATIC


def build_handlers(
    settings: Settings, detector: Judge, store: ModerationStore, inflight: InFlight
) -> TelegramHandlers:
    """The handlers and everything they share, built once for one run."""
    telegram, moderator = settings.telegram, Moderator(store)
    return TelegramHandlers(
        Answers(detector, moderator, telegram, settings.replies),
        moderator,
        Throttle(settings.throttle),
        SeenMessages(),
        Albums(telegram.album_wait_s),
        inflight,
        telegram.max_file_bytes,
    )


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


async def initialize(app: TelegramApp) -> None:
    """Check the token with getMe; PTB's own error for a rejected one quotes the token."""
    try:
        await app.initialize()
    except BaseException as exc:
        await app.bot.shutdown()  # Application.shutdown() skips a half-initialized app
        if isinstance(exc, InvalidToken):
            raise InvalidToken("Telegram rejected DEEPGUARD_TELEGRAM__TOKEN") from None
        raise


async def announce_commands(app: TelegramApp) -> None:
    """Fill Telegram's command menus (administrators also see moderation); failures cost a menu."""
    commands = [BotCommand(name, text) for name, text in replies.COMMAND_DESCRIPTIONS.items()]
    admin = [BotCommand(n, t) for n, t in replies.ADMIN_COMMAND_DESCRIPTIONS.items()]
    try:
        await app.bot.set_my_commands(commands)
        await app.bot.set_my_commands(commands + admin, BotCommandScopeAllChatAdministrators())
    except TelegramError as exc:
        log.warning("could not set the telegram command menu: %s", exc)
