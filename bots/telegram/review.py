"""The buttons under a flag: Confirm / Dismiss in the mod-log, "Report a mistake" for the poster.

The callback data carries only the flag's id (`dg:<ok|no|rp>:<id>`); everything else is read
from the store, so a button pressed after a restart works. Who may review is checked in the
flagged group (not in the mod-log chat) at the moment of the press.

Anyone can send any callback data for a bot's message (a modified client, a stale keyboard), so a
press counts only where its flag put that button: Confirm and Dismiss on the flag's own mod-log
post, "Report a mistake" in the flagged group. Data that does not parse, an id no flag can have,
or a button away from its flag is answered "this button has expired", and nothing else happens.

A press is answered privately in the presser's language; the mod-log post and the report notice
are in the flagged group's language.
"""

from __future__ import annotations

import contextlib
import logging
import re

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots import moderation_replies
from bots.i18n import Words
from bots.telegram.chats import display_name, is_admin
from bots.telegram.languages import Languages
from core.moderation.policy import usable_modlog
from core.moderation.types import FLAG_ID_MAX, Flag, FlagStatus, ModerationStore

log = logging.getLogger(__name__)

PATTERN = r"^dg:"
_DATA = re.compile(r"dg:(ok|no|rp):([1-9][0-9]{0,9})", re.ASCII)


def review_buttons(words: Words, flag_id: int) -> InlineKeyboardMarkup:
    """Confirm / Dismiss; the data names the flag, so the buttons still work after a restart."""
    confirm = words.gettext(moderation_replies.CONFIRM_BUTTON)
    dismiss = words.gettext(moderation_replies.DISMISS_BUTTON)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(confirm, callback_data=f"dg:ok:{flag_id}"),
                InlineKeyboardButton(dismiss, callback_data=f"dg:no:{flag_id}"),
            ]
        ]
    )


def report_button(words: Words, flag_id: int) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        words.gettext(moderation_replies.REPORT_BUTTON), callback_data=f"dg:rp:{flag_id}"
    )
    return InlineKeyboardMarkup([[button]])


class ReviewButtons:
    """Callback handlers for flag buttons; the store is the only state."""

    def __init__(self, store: ModerationStore, languages: Languages) -> None:
        self._store = store
        self._languages = languages

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        pressed = _parsed(query.data)
        flag = await self._store.get_flag(pressed[1]) if pressed else None
        words = self._languages.of(query.from_user)
        if pressed is not None and flag is None:
            await query.answer(words.gettext(moderation_replies.UNKNOWN_FLAG))
        elif pressed is None or flag is None or not _in_place(query.message, pressed[0], flag):
            await expired(query, words)
        elif pressed[0] == "rp":
            await self._report(context.bot, query, flag)
        else:
            status = FlagStatus.CONFIRMED if pressed[0] == "ok" else FlagStatus.DISMISSED
            await self._review(context.bot, query, flag, status)

    async def _review(
        self, bot: Bot, query: CallbackQuery, flag: Flag, status: FlagStatus
    ) -> None:
        # The message stays where it was posted even if the group has since got a new id.
        group, where = int(flag.flag.chat.chat), int(flag.flag.channel)
        message_id = int(flag.flag.message)
        words = self._languages.of(query.from_user)
        if not await is_admin(bot, group, query.from_user.id):
            await query.answer(
                words.gettext(moderation_replies.REVIEW_ADMINS_ONLY), show_alert=True
            )
            return
        reviewed = await self._store.review(flag.id, status, str(query.from_user.id))
        if reviewed is None:
            await query.answer(words.gettext(moderation_replies.ALREADY_REVIEWED))
            return
        deleted: bool | None = None
        if status is FlagStatus.CONFIRMED:
            deleted = await _delete(bot, where, message_id)
        else:
            with contextlib.suppress(TelegramError):  # the marker is a courtesy
                await bot.set_message_reaction(where, message_id, [])
        reviewer = display_name(query.from_user)
        await query.answer(
            moderation_replies.review_line(words, status, reviewer, deleted=deleted)
        )
        group_words = await self._languages.group(flag.flag.chat.chat)
        line = moderation_replies.review_line(group_words, status, reviewer, deleted=deleted)
        await _close_post(query.message, line)

    async def _report(self, bot: Bot, query: CallbackQuery, flag: Flag) -> None:
        words = self._languages.of(query.from_user)
        if str(query.from_user.id) != flag.flag.author:
            await query.answer(words.gettext(moderation_replies.REPORT_NOT_YOURS), show_alert=True)
            return
        if flag.status is not FlagStatus.OPEN:
            await query.answer(
                moderation_replies.report_after_review(words, flag.status), show_alert=True
            )
            return
        if not await self._store.report(flag.id):
            await query.answer(words.gettext(moderation_replies.REPORT_ALREADY))
            return
        policy = await self._store.policy(flag.flag.chat, private=False)
        modlog = usable_modlog(policy)
        if modlog is None:
            await query.answer(
                moderation_replies.report_without_modlog(words, "group"), show_alert=True
            )
            return
        group_words = self._languages.catalogs.words(policy.language)
        notice = moderation_replies.report_notice(
            group_words, flag.id, display_name(query.from_user)
        )
        try:
            await bot.send_message(modlog, notice)
        except TelegramError as exc:
            log.warning("flag %d: report not posted to the mod-log: %s", flag.id, exc)
            await query.answer(
                words.gettext(moderation_replies.REPORT_MODLOG_FAILED), show_alert=True
            )
            return
        await query.answer(words.gettext(moderation_replies.REPORT_THANKS))


def _parsed(data: str | None) -> tuple[str, int] | None:
    """The button's kind and flag id, or None when the data is no button of ours."""
    match = _DATA.fullmatch(data or "")
    if match is None or int(match[2]) > FLAG_ID_MAX:
        return None
    return match[1], int(match[2])


def _in_place(post: MaybeInaccessibleMessage | None, kind: str, flag: Flag) -> bool:
    """Whether the button was pressed where the flag put it."""
    if post is None:
        return False
    if kind == "rp":  # under the warning in the group (its old id, after an upgrade, too)
        return str(post.chat.id) in {flag.flag.channel, flag.flag.chat.chat}
    return flag.modlog_message == f"{post.chat.id}/{post.message_id}"


async def expired(query: CallbackQuery, words: Words) -> None:
    """Answer a press that is no longer (or never was) one of ours; nothing else happens."""
    log.info("button %r pressed by %s: expired", query.data, query.from_user.id)
    await query.answer(words.gettext(moderation_replies.BUTTON_EXPIRED))


class UnknownButtons:
    """A press no other handler took: its data is not one of ours (any more)."""

    def __init__(self, languages: Languages) -> None:
        self._languages = languages

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is not None:
            await expired(query, self._languages.of(query.from_user))


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
