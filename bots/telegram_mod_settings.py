"""`/settings` for a chat's administrators: buttons for the mode and actions, typed values.

`/settings` (or `/settings show`) shows the policy with buttons; `/settings threshold 0.8`,
`/settings uncertain 0.3` (never above the threshold), `/settings modlog -100123` (or `off`),
`/settings exempt 42` / `unexempt 42` (or in reply to the user's message) set the rest. Every
message and every button press is checked with
`getChatMember` at that moment: being an administrator yesterday is not enough.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bots import mod_replies
from bots.telegram_mod_chat import (
    author_id,
    chat_key,
    chat_name,
    first_time,
    is_admin,
    is_member,
    is_private,
    sender_is_admin,
)
from core.moderation import (
    Action,
    ChatPolicy,
    Mode,
    ModerationStore,
    with_mode,
    with_modlog,
    with_threshold,
)

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
PATTERN = r"^dgs:(mode|act):[a-z-]+$"
ACTIONS = (Action.REACT, Action.WARN, Action.MODLOG, Action.DELETE)


def keyboard(policy: ChatPolicy, chat: str) -> InlineKeyboardMarkup:
    """One row of modes (the current one marked), one row of actions (ticked when on)."""

    def mode(m: Mode) -> InlineKeyboardButton:
        mark = "• " if policy.mode is m else ""
        return InlineKeyboardButton(f"{mark}{m.value}", callback_data=f"dgs:mode:{m.value}")

    def action(a: Action) -> InlineKeyboardButton:
        mark = "✓ " if enabled(policy, chat, a) else ""
        return InlineKeyboardButton(f"{mark}{a.value}", callback_data=f"dgs:act:{a.value}")

    return InlineKeyboardMarkup([[mode(m) for m in Mode], [action(a) for a in ACTIONS]])


def enabled(policy: ChatPolicy, chat: str, action: Action) -> bool:
    where = policy.modlog if action is Action.MODLOG else chat
    return action in policy.actions and (where, action) not in policy.disabled


def toggled(policy: ChatPolicy, chat: str, action: Action) -> ChatPolicy:
    """Off when on; on (and no longer switched off after a refusal) when off."""
    if enabled(policy, chat, action):
        return replace(policy, actions=policy.actions - {action})
    disabled = frozenset(pair for pair in policy.disabled if pair[1] is not action)
    return replace(policy, actions=policy.actions | {action}, disabled=disabled)


def typed(policy: ChatPolicy, args: list[str], message: Message) -> ChatPolicy | None:
    """The policy after `/settings <name> <value>`, or None when the arguments make no sense."""
    name, value = [*args, "", ""][:2]
    target = message.reply_to_message
    if name in {"exempt", "unexempt"} and not value and target is not None:
        value = author_id(target)
    try:
        if name in {"threshold", "uncertain"}:
            number = float(value.rstrip("%"))
            number = number / 100 if number > 1 else number
            if not 0 <= number <= 1:
                return None
            if name == "threshold":
                return with_threshold(policy, number)
            return replace(policy, uncertain_from=number)
        if name == "modlog":
            return with_modlog(policy, None if value == "off" else str(int(value)))
        if name == "mode":
            return with_mode(policy, Mode(value))
        if name in {"exempt", "unexempt"}:
            users = {str(int(value))}
            changed = (
                policy.exempt_users | users if name == "exempt" else policy.exempt_users - users
            )
            return replace(policy, exempt_users=frozenset(changed))
    except ValueError:
        return None
    return None


class SettingsCommand:
    """`/settings` and its buttons; the store is the only state."""

    def __init__(self, store: ModerationStore) -> None:
        self._store = store

    async def on_settings(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None or not await first_time(self._store, message):
            return
        if is_private(message):
            await message.reply_text(mod_replies.SETTINGS_GROUPS_ONLY)
            return
        if not await sender_is_admin(context.bot, message):
            await message.reply_text(mod_replies.ADMINS_ONLY)
            return
        key, chat = chat_key(message.chat_id), str(message.chat_id)
        policy = await self._store.policy(key, private=False)
        args = context.args or []
        if args and args[0] != "show":
            changed = typed(policy, args, message)
            if changed is None:
                await message.reply_text(mod_replies.SETTINGS_USAGE)
                return
            if args[0] == "uncertain" and changed.uncertain_from > changed.threshold:
                refusal = mod_replies.bands_refused(changed.threshold, changed.uncertain_from)
                await message.reply_text(refusal)
                return
            new_modlog = changed.modlog not in {None, policy.modlog}
            if new_modlog and not await self._modlog_usable(context.bot, message, changed.modlog):
                return
            policy = changed
            await self._store.save_policy(key, policy)
        text = mod_replies.settings_text(policy)
        await message.reply_text(text, reply_markup=keyboard(policy, chat))

    async def _modlog_usable(self, bot: Bot, message: Message, modlog: str | None) -> bool:
        """The sender belongs to the mod-log chat and the bot can post there (it says hello)."""
        user = message.from_user if message.sender_chat is None else None
        if modlog is None or (user is not None and not await is_member(bot, int(modlog), user.id)):
            await message.reply_text(mod_replies.MODLOG_NOT_YOURS)
            return False
        try:
            await bot.send_message(int(modlog), mod_replies.modlog_hello(chat_name(message.chat)))
        except TelegramError as exc:
            log.info("mod-log %s refused: %s", modlog, exc)
            await message.reply_text(mod_replies.MODLOG_UNREACHABLE)
            return False
        return True

    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        post = query.message if query is not None else None
        if query is None or query.data is None or not isinstance(post, Message):
            return
        if not await is_admin(context.bot, post.chat_id, query.from_user.id):
            await query.answer(mod_replies.ADMINS_ONLY, show_alert=True)
            return
        key, chat = chat_key(post.chat_id), str(post.chat_id)
        _, kind, value = query.data.split(":")
        policy = await self._store.policy(key, private=False)
        if kind == "mode":
            policy = with_mode(policy, Mode(value))
        else:
            policy = toggled(policy, chat, Action(value))
        await self._store.save_policy(key, policy)
        await query.answer(mod_replies.SETTINGS_SAVED)
        try:
            text = mod_replies.settings_text(policy)
            await query.edit_message_text(text, reply_markup=keyboard(policy, chat))
        except BadRequest as exc:
            if "not modified" not in exc.message:  # the current mode pressed again
                raise
