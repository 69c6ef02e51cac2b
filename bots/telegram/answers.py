"""The pipeline's port on Telegram: downloading images, replying, and a flag's actions.

Replies quote the message they answer, in its forum topic when it has one. A refusal (the bot
lacks a right, or the chat forbids it) is a `Forbidden`, or a `BadRequest` about anything but a
message that is gone; the pipeline then switches that action off and tells the moderators once.
A mod-log group upgraded to a supergroup is followed to its new id. A reply about judged
images carries the "Why?" button (`bots.telegram.why` answers it).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from telegram import Bot, ChatPermissions, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from bots import moderation_replies
from bots.explain_replies import is_verdict
from bots.i18n import Words
from bots.port import Failure
from bots.telegram.chats import chat_key, chat_name, poster_name
from bots.telegram.media import Media, fetch
from bots.telegram.review import report_button, review_buttons
from bots.telegram.why import why_markup
from config import TelegramSettings
from core.moderation.types import Action, ChatPolicy, Flag, ModerationStore

log = logging.getLogger(__name__)


class TelegramPort:
    """The calls for one event: `message` is the one answered (an album's first, a /check)."""

    def __init__(
        self, bot: Bot, store: ModerationStore, settings: TelegramSettings, message: Message
    ) -> None:
        self._bot = bot
        self._store = store
        self._settings = settings
        self._message = message

    async def fetch(self, ref: Media) -> bytes:
        return await fetch(
            self._bot, ref, self._settings.max_file_bytes, self._settings.download_timeout_s
        )

    async def reply(self, text: str, flag: Flag | None, words: Words) -> None:
        """Answer the event; the report button stays on warnings, where the poster sees it."""
        try:
            markup = why_markup(words) if is_verdict(text, words) else None
            await reply(self._bot, self._message, text, markup)
        except TelegramError as exc:  # blocked, kicked, muted: a fact about the chat, not a bug
            log.warning("reply in %s failed: %s", self._message.chat_id, exc)

    async def react(self, message: Message) -> None:
        await self._bot.set_message_reaction(
            message.chat_id, message.message_id, moderation_replies.MARKER_EMOJI
        )

    async def warn(self, message: Message, text: str, flag: Flag, words: Words) -> None:
        await reply(self._bot, message, text, report_button(words, flag.id))

    async def delete(self, message: Message) -> None:
        await self._bot.delete_message(message.chat_id, message.message_id)

    async def time_out(self, message: Message, minutes: int, words: Words) -> None:
        """Mute the poster for `minutes`; a channel or anonymous admin has no one to mute."""
        if message.sender_chat is not None or message.from_user is None:
            return
        await self._bot.restrict_chat_member(
            message.chat_id,
            message.from_user.id,
            ChatPermissions.no_permissions(),
            until_date=datetime.now(UTC) + timedelta(minutes=minutes),
        )

    async def post_flag(self, message: Message, flag: Flag, modlog: str, words: Words) -> str:
        text = moderation_replies.flag_notice(
            words,
            flag.id,
            poster_name(message),
            chat_name(message.chat),
            flag.flag.fake_probability,
            message.link or "",
            flag.flag.media.value,
            declared=flag.flag.declared,
        )
        buttons = review_buttons(words, flag.id)
        try:
            posted = await self._bot.send_message(modlog, text, reply_markup=buttons)
        except ChatMigrated as exc:
            moved = await self._follow(message, modlog, str(exc.new_chat_id))
            posted = await self._bot.send_message(moved, text, reply_markup=buttons)
        return f"{posted.chat_id}/{posted.message_id}"

    async def _follow(self, message: Message, modlog: str, moved: str) -> str:
        """The mod-log group became a supergroup: save its new id and post there."""

        def follow(policy: ChatPolicy) -> ChatPolicy | None:
            return replace(policy, modlog=moved) if policy.modlog == modlog else None

        await self._store.change_policy(chat_key(message.chat_id), follow)
        log.info("mod-log %s is now %s; following it", modlog, moved)
        return moved

    async def tell(self, message: Message, text: str, modlog: str | None) -> None:
        """Post to the mod-log, or without one (or when it refused) in the group itself."""
        target = modlog or message.chat_id
        try:
            await self._bot.send_message(target, text)
        except TelegramError as exc:
            log.warning("could not tell %s: %s", target, exc)

    def place(self, message: Message, channel: str) -> str:
        return chat_name(message.chat)  # a Telegram group is its own one channel

    def failure(self, error: Exception, action: Action) -> Failure | None:
        if isinstance(error, Forbidden):
            return Failure.REFUSED
        if isinstance(error, BadRequest):
            gone = "not found" in error.message.lower()  # the message went away meanwhile
            return Failure.GONE if gone else Failure.REFUSED
        if isinstance(error, TelegramError):
            return Failure.FAILED
        return None


async def reply(
    bot: Bot, message: Message, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Quote `message`, in its forum topic when it has one."""
    await bot.send_message(
        chat_id=message.chat_id,
        text=text,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        message_thread_id=message.message_thread_id if message.is_topic_message else None,
        reply_markup=markup,
    )
