"""`/settings` for a chat's administrators: buttons for the mode and actions, typed values.

`/settings` (or `/settings show`) shows the policy with buttons; `/settings threshold 0.8`,
`/settings uncertain 0.3` (never above the threshold), `/settings modlog -100123` (or `off`),
`/settings exempt 42` / `unexempt 42` (or in reply to the user's message) set the rest. Every
message and every button press is checked with
`getChatMember` at that moment: being an administrator yesterday is not enough.
"""

from __future__ import annotations

import logging

from telegram import Bot, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bots import replies
from bots.replies import crossing
from bots.telegram.mod_chat import (
    chat_key,
    chat_name,
    first_time,
    is_admin,
    is_member,
    is_private,
    sender_is_admin,
)
from bots.telegram.mod_policy import keyboard, toggled, typed
from core.moderation.policy import with_mode
from core.moderation.types import Action, ChatPolicy, Mode, ModerationStore

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
PATTERN = r"^dgs:(mode|act):[a-z-]+$"


class SettingsCommand:
    """`/settings` and its buttons; the store is the only state."""

    def __init__(self, store: ModerationStore) -> None:
        self._store = store

    async def on_settings(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None or not await self._may_configure(message, context.bot):
            return
        key, chat = chat_key(message.chat_id), str(message.chat_id)
        policy = await self._store.policy(key, private=False)
        args = context.args or []
        if args and args[0] != "show":
            changed = await self._changed(policy, args, message, context.bot)
            if changed is None:
                return
            policy = changed
            await self._store.save_policy(key, policy)
        text = replies.settings_text(policy)
        await message.reply_text(text, reply_markup=keyboard(policy, chat))

    async def _may_configure(self, message: Message, bot: Bot) -> bool:
        """A new message from a group's administrator; anything else is refused or ignored."""
        if not await first_time(self._store, message):
            return False
        if is_private(message):
            await message.reply_text(replies.SETTINGS_GROUPS_ONLY)
            return False
        if not await sender_is_admin(bot, message):
            await message.reply_text(replies.ADMINS_ONLY)
            return False
        return True

    async def _changed(
        self, policy: ChatPolicy, args: list[str], message: Message, bot: Bot
    ) -> ChatPolicy | None:
        """The typed change, or None once the sender was told why it is not saved."""
        changed = typed(policy, args, message)
        if changed is None:
            await message.reply_text(replies.SETTINGS_USAGE)
            return None
        if args[0] == "uncertain" and (refusal := crossing(changed)):
            await message.reply_text(refusal)
            return None
        new_modlog = changed.modlog not in {None, policy.modlog}
        if new_modlog and not await self._modlog_usable(bot, message, changed.modlog):
            return None
        return changed

    async def _modlog_usable(self, bot: Bot, message: Message, modlog: str | None) -> bool:
        """The sender belongs to the mod-log chat and the bot can post there (it says hello)."""
        user = message.from_user if message.sender_chat is None else None
        if modlog is None or (user is not None and not await is_member(bot, int(modlog), user.id)):
            await message.reply_text(replies.MODLOG_NOT_YOURS)
            return False
        try:
            await bot.send_message(int(modlog), replies.modlog_hello(chat_name(message.chat)))
        except TelegramError as exc:
            log.info("mod-log %s refused: %s", modlog, exc)
            await message.reply_text(replies.MODLOG_UNREACHABLE)
            return False
        return True

    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        post = query.message if query is not None else None
        if query is None or query.data is None or not isinstance(post, Message):
            return
        if not await is_admin(context.bot, post.chat_id, query.from_user.id):
            await query.answer(replies.ADMINS_ONLY, show_alert=True)
            return
        key, chat = chat_key(post.chat_id), str(post.chat_id)
        _, kind, value = query.data.split(":")
        policy = await self._store.policy(key, private=False)
        if kind == "mode":
            policy = with_mode(policy, Mode(value))
        else:
            policy = toggled(policy, chat, Action(value))
        await self._store.save_policy(key, policy)
        await query.answer(replies.SETTINGS_SAVED)
        try:
            text = replies.settings_text(policy)
            await query.edit_message_text(text, reply_markup=keyboard(policy, chat))
        except BadRequest as exc:
            if "not modified" not in exc.message:  # the current mode pressed again
                raise
