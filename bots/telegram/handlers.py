"""What the Telegram bot does with an update: collect its images into an event for the pipeline.

A photo, image file, sticker, GIF, video or video note (new, or swapped in by an edit) is an
upload; the messages of an album are gathered first, so the album gets one reply. `/check` in
reply to a message is a request about that message's upload, which works in privacy mode too.
A private chat is answered in its user's language, a group in its own
(`bots.telegram.languages`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from telegram import Bot, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots import replies
from bots.delivery import InFlight
from bots.pipeline import Pipeline
from bots.port import Event, Image, Post
from bots.telegram.answers import TelegramPort, reply
from bots.telegram.chats import chat_key, upload_context
from bots.telegram.languages import Languages, answer_language
from bots.telegram.media import Albums, Media, media_of
from config import TelegramSettings
from core.errors import StoreUnavailable
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Pending = tuple[Message, Media]
TelegramEvent = Event[Message, Media]


class TelegramHandlers:
    """PTB callbacks; every dependency comes in through the constructor."""

    def __init__(
        self,
        pipeline: Pipeline,
        store: ModerationStore,
        albums: Albums[Pending],
        inflight: InFlight,
        settings: TelegramSettings,
        languages: Languages,
    ) -> None:
        self._pipeline = pipeline
        self.languages = languages
        self.outage = pipeline.outage  # the moderation commands ride out the same outage
        self._store = store
        self._albums = albums
        self._inflight = inflight
        self._settings = settings

    async def on_image(self, update: Update, context: Context) -> None:
        """A photo, file, sticker or clip, new or swapped in by an edit; albums reply once."""
        message = update.effective_message
        media = media_of(message, self._settings.max_file_bytes) if message else None
        if message is None or media is None:
            return
        with self._inflight.track():
            album = await self._album(message, media)
            if album is not None:
                await self._pipeline.run(posted(album), self._port(context, album[0][0]))

    async def on_check(self, update: Update, context: Context) -> None:
        """`/check` in reply to a message judges that message's image (works in privacy mode)."""
        message = update.effective_message
        if message is None:
            return
        with self._inflight.track():
            if not await self._claim(message, "check"):
                return
            port = self._port(context, message)
            target = message.reply_to_message
            media = media_of(target, self._settings.max_file_bytes) if target else None
            if target is None or media is None:
                hint = replies.CHECK_NEEDS_IMAGE if target is None else replies.NO_IMAGE_FOUND
                words = await self.languages.of_message(message)
                await port.reply(words.gettext(hint), None, words)
                return
            await self._pipeline.run(requested(message, target, media), port)

    async def on_help(self, update: Update, context: Context) -> None:
        """`/start` and `/help`: what the bot does, its limits and its commands."""
        message = update.effective_message
        if message is not None and await self._claim(message, "help"):
            words = await self.languages.of_message(message)
            await self._port(context, message).reply(words.gettext(replies.HELP), None, words)

    async def on_error(self, update: object, context: Context) -> None:
        """Log an error once (a bug with its traceback) and tell the user if possible."""
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(context.error, StoreUnavailable):  # a command or button needing the store
            self.outage.failed(context.error)
            await self._tell(context.bot, update, replies.STORE_UNAVAILABLE)
            return
        if isinstance(context.error, TelegramError):
            # Blocked, kicked, muted or offline: a fact about the chat, and a reply would fail too.
            log.warning("Telegram failed a call for update %s: %s", update_id, context.error)
            return
        log.error("unexpected error handling update %s", update_id, exc_info=context.error)
        await self._tell(context.bot, update, replies.UNEXPECTED)

    async def _tell(self, bot: Bot, update: object, text: str) -> None:
        """Answer the press or the message an update brought, if it can be answered: a press
        in its presser's language, a message in its chat's."""
        if not isinstance(update, Update):
            return
        with contextlib.suppress(TelegramError):
            if update.callback_query is not None:
                words = self.languages.of(update.callback_query.from_user)
                await update.callback_query.answer(words.gettext(text), show_alert=True)
            elif update.effective_message is not None:
                words = await self.languages.of_message(update.effective_message)
                await reply(bot, update.effective_message, words.gettext(text))

    def _port(self, context: Context, message: Message) -> TelegramPort:
        return TelegramPort(context.bot, self._store, self._settings, message)

    async def _album(self, message: Message, media: Media) -> list[Pending] | None:
        """The whole album for its first message (None for the others); a lone image alone."""
        if message.media_group_id is None:
            return [(message, media)]
        key = (message.chat_id, message.media_group_id)
        album = await self._albums.gather(key, (message, media))
        if album is not None:
            album.sort(key=lambda pending: pending[0].message_id)
        return album

    async def _claim(self, message: Message, what: str) -> bool:
        """Whether the request is new (across restarts and processes, as far as can be told)."""
        return await self._pipeline.first_time(
            chat_key(message.chat_id), f"{message.message_id}:{what}"
        )


def posted(album: Sequence[Pending]) -> TelegramEvent:
    """Messages posted in a chat, one or an album's, each flagged on its own."""
    posts = [_post(message, media) for message, media in album]
    first = album[0][0]
    return Event(
        chat_key(first.chat_id),
        _sender(first),
        posts[0].context,
        posts,
        answer_language=answer_language(first),
    )


def requested(command: Message, target: Message, media: Media) -> TelegramEvent:
    """`/check` on `target`: the command is answered, the target flagged as policy says."""
    context = upload_context(command, requested=True)
    post = _post(target, media, requested=True)
    return Event(
        chat_key(command.chat_id),
        _sender(command),
        context,
        [post],
        answer_language=answer_language(command),
    )


def _post(message: Message, media: Media, *, requested: bool = False) -> Post[Message, Media]:
    context = upload_context(message, requested=requested)
    image = Image(media.unique_id, media, sniff=not media.claimed)
    return Post(
        str(message.message_id), str(message.chat_id), context, [image], message, message.date
    )


def _sender(message: Message) -> str:
    """Whose rate an upload spends: a poster speaking as a chat (an anonymous admin, a channel,
    a linked channel's post) is that chat; `from` then holds a placeholder every such poster
    shares (GroupAnonymousBot, Channel_Bot, 777000)."""
    if message.sender_chat is not None:
        return f"telegram-chat:{message.sender_chat.id}"
    if message.from_user is not None:
        return f"telegram-user:{message.from_user.id}"
    return f"telegram-chat:{message.chat_id}"
