"""The mod-log handshake: a chat becomes a group's mod-log only when its own administrator agrees.

Flag notices name posters and link to their messages, so a group's administrators may not simply
point them at any chat the bot can write to (another group, a user who once started the bot):
an anonymous administrator has no user whose membership there could be checked, and a member of
the chat is not its administrator. `/settings modlog <id>` therefore only asks: the request,
with a Confirm button, is posted in the target chat and kept in the group's policy
(`pending_modlog`); nothing else is posted there. An administrator of the target chat (in a
private chat, its one user) confirms, checked with `getChatMember` at the press; that switches
the mod-log over in one atomic change. A newer request, or `modlog off`, withdraws the old one,
whose button has then expired. The request and its answers are in the asking group's language;
a press is answered in the presser's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bots import moderation_replies
from bots.i18n import Words
from bots.telegram.chats import chat_key, chat_name, display_name, is_admin
from bots.telegram.languages import Languages
from bots.telegram.review import expired
from core.moderation.policy import with_modlog
from core.moderation.types import ChatPolicy, FlagStatus, ModerationStore

log = logging.getLogger(__name__)

PATTERN = r"^dgm:"
_DATA = re.compile(r"dgm:(-?[0-9]{1,20})", re.ASCII)


def request_button(words: Words, group: int) -> InlineKeyboardMarkup:
    """Confirm; the data names the asking group, the chat it is pressed in is the mod-log."""
    button = InlineKeyboardButton(
        words.gettext(moderation_replies.MODLOG_CONFIRM_BUTTON), callback_data=f"dgm:{group}"
    )
    return InlineKeyboardMarkup([[button]])


def withdrawn(policy: ChatPolicy) -> ChatPolicy:
    """`/settings modlog off`: no mod-log, and no request left open."""
    return replace(with_modlog(policy, None), pending_modlog=None)


class ModlogHandshake:
    """Asking a chat to be a group's mod-log, and its administrator's answer."""

    def __init__(self, store: ModerationStore, languages: Languages) -> None:
        self._store = store
        self._languages = languages

    async def ask(self, bot: Bot, message: Message, target: str, words: Words) -> str:
        """Post the request in `target` for the message's group; what to tell the group (both
        in the group's `words`)."""
        key = chat_key(message.chat_id)

        def asked(policy: ChatPolicy) -> ChatPolicy:
            return replace(policy, pending_modlog=target)

        def not_asked(policy: ChatPolicy) -> ChatPolicy | None:
            return (
                replace(policy, pending_modlog=None) if policy.pending_modlog == target else None
            )

        # Saved first, so that a press right after the post finds the request.
        await self._store.change_policy(key, asked)
        try:
            await bot.send_message(
                int(target),
                moderation_replies.modlog_request(words, chat_name(message.chat)),
                reply_markup=request_button(words, message.chat_id),
            )
        except TelegramError as exc:
            log.info("mod-log %s refused the request of %s: %s", target, message.chat_id, exc)
            await self._store.change_policy(key, not_asked)
            return words.gettext(moderation_replies.MODLOG_UNREACHABLE)
        return words.gettext(moderation_replies.MODLOG_ASKED)

    async def on_confirm(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Confirm pressed in the chat asked: its administrator makes it the group's mod-log."""
        query = update.callback_query
        if query is None:
            return
        match = _DATA.fullmatch(query.data or "")
        post = query.message
        words = self._languages.of(query.from_user)
        if match is None or post is None:
            await expired(query, words)
            return
        group, target = chat_key(match[1]), str(post.chat.id)
        asking = await self._store.policy(group, private=False)
        if asking.pending_modlog != target:
            await expired(query, words)
            return
        if not await _administers(context.bot, post.chat.id, query.from_user.id):
            await query.answer(
                words.gettext(moderation_replies.MODLOG_CONFIRM_ADMINS_ONLY), show_alert=True
            )
            return

        def confirmed(policy: ChatPolicy) -> ChatPolicy | None:
            if policy.pending_modlog != target:
                return None  # withdrawn or replaced since the check above
            return with_modlog(replace(policy, pending_modlog=None), target)

        changed = await self._store.change_policy(group, confirmed)
        if changed is None:
            await expired(query, words)
            return
        log.info("telegram chat %s is now the mod-log of %s", target, group.chat)
        await query.answer(words.gettext(moderation_replies.SETTINGS_SAVED))
        where = chat_name(post.chat)
        group_words = self._languages.catalogs.words(changed.language)
        try:
            if isinstance(post, Message) and post.text:
                line = moderation_replies.review_line(
                    group_words, FlagStatus.CONFIRMED, display_name(query.from_user)
                )
                await post.edit_text(f"{post.text}\n\n{line}", reply_markup=None)
            await context.bot.send_message(
                int(group.chat), moderation_replies.modlog_set(group_words, where)
            )
        except TelegramError as exc:  # the mod-log is set; these are courtesies
            log.warning("could not announce the mod-log %s of %s: %s", target, group.chat, exc)


async def _administers(bot: Bot, chat_id: int, user_id: int) -> bool:
    """An administrator of the chat; in a private chat with the bot, its one user."""
    return chat_id == user_id or await is_admin(bot, chat_id, user_id)
