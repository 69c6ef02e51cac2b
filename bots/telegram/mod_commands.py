"""`/stats` and `/forget` for a chat's administrators, and forgetting a chat the bot left.

Telegram sends a `my_chat_member` update when the bot is removed from a group (or a user blocks
it in private): that chat's settings, flags and counts are deleted then, as the issue asks.
A basic group upgraded to a supergroup gets a new id (a service message in each chat names the
other): its settings, flags and counts move to the new id.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from telegram import Message, Update
from telegram.constants import ChatMemberStatus
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bots import replies
from bots.telegram.mod_chat import chat_key, first_time, sender_is_admin
from bots.telegram.mod_review import PATTERN as REVIEW_PATTERN
from bots.telegram.mod_review import ReviewButtons
from bots.telegram.mod_settings import PATTERN as SETTINGS_PATTERN
from bots.telegram.mod_settings import SettingsCommand
from core.moderation.types import ChatPolicy, ModerationStore

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})


class ChatCommands:
    """Per-chat data on demand; the store is the only state."""

    def __init__(self, store: ModerationStore) -> None:
        self._store = store

    async def on_stats(self, update: Update, context: Context) -> None:
        """Images scanned, flagged, confirmed and dismissed in the last 7 and 30 days."""
        message = await self._from_admin(update, context)
        if message is None:
            return
        now, key = datetime.now(UTC), chat_key(message.chat_id)
        week = await self._store.stats(key, now - timedelta(days=7))
        month = await self._store.stats(key, now - timedelta(days=30))
        await message.reply_text(replies.stats_text(week, month))

    async def on_forget(self, update: Update, context: Context) -> None:
        """Delete everything stored about this chat, at an administrator's request."""
        message = await self._from_admin(update, context)
        if message is None:
            return
        await self._store.forget(chat_key(message.chat_id))
        log.info("telegram chat %s: data deleted on request", message.chat_id)
        await message.reply_text(replies.FORGOTTEN)

    async def _from_admin(self, update: Update, context: Context) -> Message | None:
        """The command's message when it is new and an administrator sent it (else refused)."""
        message = update.effective_message
        if message is None or not await first_time(self._store, message):
            return None
        if not await sender_is_admin(context.bot, message):
            await message.reply_text(replies.ADMINS_ONLY_COMMAND)
            return None
        return message

    async def on_membership(self, update: Update, context: Context) -> None:
        """The bot left or was removed (or blocked in private): forget the chat."""
        change = update.my_chat_member
        if change is None or change.new_chat_member.status not in GONE:
            return
        await self._store.forget(chat_key(change.chat.id))
        log.info("telegram chat %s: the bot was removed, its data deleted", change.chat.id)

    async def on_migrated(self, update: Update, context: Context) -> None:
        """The group became a supergroup: its data follows the new id (either message will do)."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id is not None:
            old, new = message.chat_id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id is not None:
            old, new = message.migrate_from_chat_id, message.chat_id
        else:
            return
        await self._store.move(chat_key(old), chat_key(new))
        # In Telegram a group is its own (only) channel: actions switched off there stay off.
        policy = await self._store.policy(chat_key(new), private=False)
        if (renamed := channel_renamed(policy, str(old), str(new))) != policy:
            await self._store.save_policy(chat_key(new), renamed)
        log.info("telegram group %s is now supergroup %s; its data moved", old, new)


def channel_renamed(policy: ChatPolicy, old: str, new: str) -> ChatPolicy:
    """The policy with channel id `old` (in refusals and the mod-log) called `new`."""
    disabled = frozenset((new if c == old else c, a) for c, a in policy.disabled)
    modlog = new if policy.modlog == old else policy.modlog
    return replace(policy, disabled=disabled, modlog=modlog)


def moderation_handlers(store: ModerationStore) -> list[BaseHandler[Update, Context, None]]:
    """The commands, buttons and membership updates of moderation, sharing one store."""
    settings, review, chat = SettingsCommand(store), ReviewButtons(store), ChatCommands(store)
    only_new = filters.UpdateType.MESSAGE  # an edited command is not a new request
    return [
        CommandHandler("settings", settings.on_settings, only_new),
        CommandHandler("stats", chat.on_stats, only_new),
        CommandHandler("forget", chat.on_forget, only_new),
        CallbackQueryHandler(settings.on_button, SETTINGS_PATTERN),
        CallbackQueryHandler(review.on_button, REVIEW_PATTERN),
        ChatMemberHandler(chat.on_membership, ChatMemberHandler.MY_CHAT_MEMBER),
        MessageHandler(filters.StatusUpdate.MIGRATE, chat.on_migrated),
    ]
