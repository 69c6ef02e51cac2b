"""What the Telegram bot does with an update: find the image, judge it, reply once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from telegram import Bot, Message, ReplyParameters, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots import replies
from bots.dedupe import SeenMessages
from bots.telegram_albums import Albums
from bots.telegram_inflight import InFlight
from bots.telegram_media import Media, fetch, media_of
from bots.telegram_mod import Judged, Moderator
from bots.throttle import Admission, Throttle
from config import ReplySettings, TelegramSettings
from core import DeepGuardError, Judge, Judgement, Overloaded, UnsupportedImage
from core.moderation import ChatPolicy

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Pending = tuple[Message, Media]


class TelegramHandlers:
    """PTB callbacks; every dependency comes in through the constructor."""

    def __init__(
        self,
        judge: Judge,
        throttle: Throttle,
        seen: SeenMessages,
        albums: Albums[Pending],
        inflight: InFlight,
        settings: TelegramSettings,
        bands: ReplySettings,
        moderator: Moderator,
    ) -> None:
        self._judge = judge
        self._throttle = throttle
        self._seen = seen
        self._albums = albums
        self._inflight = inflight
        self._max_bytes = settings.max_file_bytes
        self._timeout_s = settings.download_timeout_s
        self._bands = bands
        self._mod = moderator

    async def on_image(self, update: Update, context: Context) -> None:
        """A photo, image file or sticker, new or swapped in by an edit; albums reply once."""
        message = update.effective_message
        media = media_of(message, self._max_bytes) if message else None
        if message is None or media is None:
            return
        with self._inflight.track():
            policy = await self._mod.policy(message)
            if not self._mod.scans(policy, message):
                return
            loud = self._mod.answers(policy, message)
            if not await self._admit(context.bot, message, media.unique_id, loud):
                return
            if message.media_group_id is None:
                await self._answer(context.bot, message, [(message, media)], policy)
                return
            key = (message.chat_id, message.media_group_id)
            album = await self._albums.gather(key, (message, media))
            if album is not None:
                album.sort(key=lambda pending: pending[0].message_id)
                await self._answer(context.bot, album[0][0], album, policy)

    async def on_check(self, update: Update, context: Context) -> None:
        """`/check` in reply to a message judges that message's image (works in privacy mode)."""
        message = update.effective_message
        if message is None:
            return
        with self._inflight.track():
            if not await self._claim(message, "check"):
                return
            target = message.reply_to_message
            media = media_of(target, self._max_bytes) if target else None
            if target is None or media is None:
                hint = replies.CHECK_NEEDS_IMAGE if target is None else replies.NO_IMAGE_FOUND
                await _reply(context.bot, message, hint)
            elif await self._allowed(context.bot, message, True):
                policy = await self._mod.policy(message)
                found = [(target, media)]
                await self._answer(context.bot, message, found, policy, requested=True)

    async def on_help(self, update: Update, context: Context) -> None:
        """`/start` and `/help`: what the bot does, its limits and its commands."""
        message = update.effective_message
        if message is not None and await self._claim(message, "help"):
            await _reply(context.bot, message, replies.HELP)

    async def on_error(self, update: object, context: Context) -> None:
        """Log an error once (a bug with its traceback) and tell the user if possible."""
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(context.error, TelegramError):
            # Blocked, kicked, muted or offline: a fact about the chat, and a reply would fail too.
            log.warning("Telegram failed a call for update %s: %s", update_id, context.error)
            return
        log.error("unexpected error handling update %s", update_id, exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            with contextlib.suppress(TelegramError):
                await _reply(context.bot, update.effective_message, replies.UNEXPECTED)

    async def _claim(self, message: Message, what: str) -> bool:
        """In memory first (cheap), then in the store (across restarts and processes)."""
        return await self._seen.claim(_key(message, what)) and await self._mod.claim(message, what)

    async def _admit(self, bot: Bot, message: Message, what: str, loud: bool) -> bool:
        """Claim the message once, then spend a token of its sender."""
        return await self._claim(message, what) and await self._allowed(bot, message, loud)

    async def _allowed(self, bot: Bot, message: Message, loud: bool) -> bool:
        """Spend a token of the sender; the first refusal of a burst is told, once, if `loud`."""
        admission = self._throttle.admit(_sender(message))
        if admission is Admission.REFUSE_AND_NOTIFY and loud:
            await _reply(bot, message, replies.THROTTLED)
        return admission is Admission.ALLOW

    async def _answer(
        self,
        bot: Bot,
        message: Message,
        pending: Sequence[Pending],
        policy: ChatPolicy,
        *,
        requested: bool = False,
    ) -> None:
        """Judge each image, let moderation act on each, post one reply if the chat wants it."""
        # Every image finishes before a bug in one is raised, so none is left running unawaited.
        found = await asyncio.gather(
            *(self._outcome(bot, media) for _, media in pending), return_exceptions=True
        )
        outcomes: list[replies.Outcome] = []
        judged: list[Judged] = []
        for (source, _), outcome in zip(pending, found, strict=True):
            if isinstance(outcome, Judgement):
                judged.append((source, outcome))
            if isinstance(outcome, Judgement | DeepGuardError):
                outcomes.append(outcome)
            elif outcome is not None:
                raise outcome
        await self._mod.review(bot, policy, judged, requested=requested)
        if not self._mod.answers(policy, message, requested=requested):
            return
        if len(outcomes) == 1 and isinstance(outcomes[0], Overloaded):
            await _reply(bot, message, replies.BUSY)
        elif outcomes:
            await _reply(bot, message, replies.outcomes_text(outcomes, self._bands))
        elif requested:
            await _reply(bot, message, replies.NO_IMAGE_FOUND)

    async def _outcome(self, bot: Bot, media: Media) -> replies.Outcome | None:
        """The judgement or the polite reason; None for a file that only pretended."""
        try:
            data = await fetch(bot, media, self._max_bytes, self._timeout_s)
            return await self._judge.judge(data)
        except UnsupportedImage as exc:
            return exc if media.claimed else None
        except DeepGuardError as exc:
            return exc


def _key(message: Message, what: str) -> str:
    return f"telegram:{message.chat_id}:{message.message_id}:{what}"


def _sender(message: Message) -> str:
    if message.from_user is not None:
        return f"telegram-user:{message.from_user.id}"
    if message.sender_chat is not None:  # anonymous admins and channels speak as a chat
        return f"telegram-chat:{message.sender_chat.id}"
    return f"telegram-chat:{message.chat_id}"


async def _reply(bot: Bot, message: Message, text: str) -> None:
    """Quote `message`, in its forum topic when it has one."""
    await bot.send_message(
        chat_id=message.chat_id,
        text=text,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        message_thread_id=message.message_thread_id if message.is_topic_message else None,
    )
