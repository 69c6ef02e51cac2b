"""The buttons under a flag: Confirm / Dismiss in the mod-log, "Report a mistake" for the poster.

The callback data carries only the flag's id (`dg:<ok|no|rp>:<id>`); everything else is read
from the store, so a button pressed after a restart works. Who may review is checked in the
flagged group (not in the mod-log chat) at the moment of the press.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots import replies
from bots.telegram.chats import chat_key, display_name, is_admin
from core.moderation.types import Flag, FlagStatus, ModerationStore

log = logging.getLogger(__name__)

PATTERN = r"^dg:(ok|no|rp):\d+$"


def review_buttons(flag_id: int) -> InlineKeyboardMarkup:
    """Confirm / Dismiss; the data names the flag, so the buttons still work after a restart."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(replies.CONFIRM_BUTTON, callback_data=f"dg:ok:{flag_id}"),
                InlineKeyboardButton(replies.DISMISS_BUTTON, callback_data=f"dg:no:{flag_id}"),
            ]
        ]
    )


def report_button(flag_id: int) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(replies.REPORT_BUTTON, callback_data=f"dg:rp:{flag_id}")
    return InlineKeyboardMarkup([[button]])


class ReviewButtons:
    """Callback handlers for flag buttons; the store is the only state."""

    def __init__(self, store: ModerationStore) -> None:
        self._store = store

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        _, kind, number = query.data.split(":")
        flag = await self._store.get_flag(int(number))
        if flag is None:
            await query.answer(replies.UNKNOWN_FLAG)
        elif kind == "rp":
            await self._report(context.bot, query, flag)
        else:
            status = FlagStatus.CONFIRMED if kind == "ok" else FlagStatus.DISMISSED
            await self._review(context.bot, query, flag, status)

    async def _review(
        self, bot: Bot, query: CallbackQuery, flag: Flag, status: FlagStatus
    ) -> None:
        # The message stays where it was posted even if the group has since got a new id.
        group, where = int(flag.flag.chat.chat), int(flag.flag.channel)
        message_id = int(flag.flag.message)
        if not await is_admin(bot, group, query.from_user.id):
            await query.answer(replies.REVIEW_ADMINS_ONLY, show_alert=True)
            return
        reviewed = await self._store.review(flag.id, status, str(query.from_user.id))
        if reviewed is None:
            await query.answer(replies.ALREADY_REVIEWED)
            return
        deleted: bool | None = None
        if status is FlagStatus.CONFIRMED:
            deleted = await _delete(bot, where, message_id)
        else:
            with contextlib.suppress(TelegramError):  # the marker is a courtesy
                await bot.set_message_reaction(where, message_id, [])
        line = replies.review_line(status, display_name(query.from_user), deleted=deleted)
        await query.answer(line)
        await _close_post(query.message, line)

    async def _report(self, bot: Bot, query: CallbackQuery, flag: Flag) -> None:
        if str(query.from_user.id) != flag.flag.author:
            await query.answer(replies.REPORT_NOT_YOURS, show_alert=True)
            return
        policy = await self._store.policy(flag.flag.chat, private=False)
        first = await self._store.claim(chat_key(flag.flag.chat.chat), f"report:{flag.id}")
        if first and policy.modlog is not None:
            notice = replies.report_notice(flag.id, display_name(query.from_user))
            try:
                await bot.send_message(policy.modlog, notice)
            except TelegramError as exc:
                log.warning("could not post report of flag %d: %s", flag.id, exc)
        await query.answer(replies.REPORT_THANKS)


async def _delete(bot: Bot, chat: int, message: int) -> bool:
    try:
        return await bot.delete_message(chat, message)
    except TelegramError as exc:
        log.info("could not delete confirmed message %s/%s: %s", chat, message, exc)
        return False


async def _close_post(post: object, line: str) -> None:
    """Append the review to the mod-log post and remove its buttons."""
    if not isinstance(post, Message) or not post.text:
        return
    try:
        await post.edit_text(f"{post.text}\n\n{line}", reply_markup=None)
    except TelegramError as exc:
        log.warning("could not update mod-log post %s: %s", post.message_id, exc)
