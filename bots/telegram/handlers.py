"""What the Telegram bot does with an update: admit it once, find the image, hand it on."""

from __future__ import annotations

import contextlib
import logging

from telegram import Bot, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots import replies
from bots.delivery import InFlight, SeenMessages
from bots.telegram.albums import Albums
from bots.telegram.answers import Answers, Pending, reply
from bots.telegram.media import media_of
from bots.telegram.mod import Moderator
from bots.throttle import Admission, Throttle

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class TelegramHandlers:
    """PTB callbacks; every dependency comes in through the constructor."""

    def __init__(
        self,
        answers: Answers,
        moderator: Moderator,
        throttle: Throttle,
        seen: SeenMessages,
        albums: Albums[Pending],
        inflight: InFlight,
        max_bytes: int,
    ) -> None:
        self._answers = answers
        self._mod = moderator
        self._throttle = throttle
        self._seen = seen
        self._albums = albums
        self._inflight = inflight
        self._max_bytes = max_bytes

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
            defer = self._mod.defers(policy, message)
            if not await self._admit(context.bot, message, media.unique_id, loud, defer):
                return
            if message.media_group_id is None:
                await self._answers.answer(context.bot, message, [(message, media)], policy)
                return
            key = (message.chat_id, message.media_group_id)
            album = await self._albums.gather(key, (message, media))
            if album is not None:
                album.sort(key=lambda pending: pending[0].message_id)
                await self._answers.answer(context.bot, album[0][0], album, policy)

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
                await reply(context.bot, message, hint)
            elif await self._allowed(context.bot, message, True):
                policy = await self._mod.policy(message)
                found = [(target, media)]
                await self._answers.answer(context.bot, message, found, policy, requested=True)

    async def on_help(self, update: Update, context: Context) -> None:
        """`/start` and `/help`: what the bot does, its limits and its commands."""
        message = update.effective_message
        if message is not None and await self._claim(message, "help"):
            await reply(context.bot, message, replies.HELP)

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
                await reply(context.bot, update.effective_message, replies.UNEXPECTED)

    async def _claim(self, message: Message, what: str) -> bool:
        """In memory first (cheap), then in the store (across restarts and processes)."""
        return await self._seen.claim(_key(message, what)) and await self._mod.claim(message, what)

    async def _admit(self, bot: Bot, message: Message, what: str, loud: bool, defer: bool) -> bool:
        """Claim the message once, then spend a token of its sender."""
        return await self._claim(message, what) and await self._allowed(bot, message, loud, defer)

    async def _allowed(self, bot: Bot, message: Message, loud: bool, defer: bool = False) -> bool:
        """Spend a token of the sender; the first refusal of a burst is told, once, if `loud`.

        With `defer` (a moderated chat) an image over the rate waits for its token before it
        is downloaded, and is refused only when too many of the sender's images wait already.
        """
        sender = _sender(message)
        admission = await self._throttle.wait(sender) if defer else self._throttle.admit(sender)
        if admission is Admission.REFUSE_AND_NOTIFY and loud:
            await reply(bot, message, replies.THROTTLED)
        return admission is Admission.ALLOW


def _key(message: Message, what: str) -> str:
    return f"telegram:{message.chat_id}:{message.message_id}:{what}"


def _sender(message: Message) -> str:
    if message.from_user is not None:
        return f"telegram-user:{message.from_user.id}"
    if message.sender_chat is not None:  # anonymous admins and channels speak as a chat
        return f"telegram-chat:{message.sender_chat.id}"
    return f"telegram-chat:{message.chat_id}"
