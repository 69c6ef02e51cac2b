"""What a flag does in Telegram: record it, mark the message, warn, post to the mod-log, delete.

Each action is tried on its own, so one Telegram refuses does not stop the others. A refusal
(the bot lacks a right, or the chat forbids it) switches that action off for the chat and is
told once; network trouble is only logged, since the next flag may well work.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from bots import replies
from bots.telegram.mod_chat import author_id, chat_key, chat_name, poster_name
from core.moderation.policy import without_action
from core.moderation.types import Action, ChatPolicy, Decision, Flag, ModerationStore, NewFlag
from core.result import Judgement

log = logging.getLogger(__name__)

# Deleting last: the reaction and warning need the message, the mod-log post quotes its link.
ORDER = (Action.REACT, Action.WARN, Action.MODLOG, Action.DELETE)


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


class FlagActions:
    """Takes a flag's actions; the lock makes "switch off and tell once" hold under concurrency."""

    def __init__(self, store: ModerationStore) -> None:
        self._store = store
        self._refusals = asyncio.Lock()

    async def take(
        self, bot: Bot, message: Message, judgement: Judgement, decision: Decision
    ) -> Flag:
        flag = await self._store.add_flag(
            NewFlag(
                chat=chat_key(message.chat_id),
                channel=str(message.chat_id),
                message=str(message.message_id),
                author=author_id(message),
                sha256=judgement.sha256,
                fake_probability=judgement.fake_probability,
                actions=decision.actions,
            )
        )
        policy = await self._store.policy(chat_key(message.chat_id), private=False)
        for action in ORDER:
            if action not in decision.actions:
                continue
            try:
                await self._act(bot, action, message, flag, policy)
            except TelegramError as exc:
                if _refusal(exc):
                    await self.refused(bot, message, action, exc)
                else:
                    log.warning("flag %d: %s failed: %s", flag.id, action.value, exc)
        return flag

    async def _act(
        self, bot: Bot, action: Action, message: Message, flag: Flag, policy: ChatPolicy
    ) -> None:
        chat, p = message.chat_id, flag.flag.fake_probability
        if action is Action.REACT:
            await bot.set_message_reaction(chat, message.message_id, replies.MARKER_EMOJI)
        elif action is Action.WARN:
            await bot.send_message(
                chat,
                replies.warning_text(p),
                reply_parameters=ReplyParameters(
                    message.message_id, allow_sending_without_reply=True
                ),
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
                reply_markup=report_button(flag.id),
            )
        elif action is Action.MODLOG and policy.modlog is not None:
            text = replies.flag_notice(
                flag.id, poster_name(message), chat_name(message.chat), p, message.link or ""
            )
            posted = await self._post(bot, message, policy.modlog, text, flag.id)
            await self._store.set_modlog_message(flag.id, f"{posted.chat_id}/{posted.message_id}")
        elif action is Action.DELETE:
            await bot.delete_message(chat, message.message_id)

    async def _post(
        self, bot: Bot, message: Message, modlog: str, text: str, flag_id: int
    ) -> Message:
        """Post to the mod-log; one upgraded to a supergroup is followed to its new id."""
        try:
            return await bot.send_message(modlog, text, reply_markup=review_buttons(flag_id))
        except ChatMigrated as exc:
            moved = str(exc.new_chat_id)
            key = chat_key(message.chat_id)
            policy = await self._store.policy(key, private=False)
            if policy.modlog == modlog:
                await self._store.save_policy(key, replace(policy, modlog=moved))
            log.info("mod-log %s is now %s; following it", modlog, moved)
            return await bot.send_message(moved, text, reply_markup=review_buttons(flag_id))

    async def refused(
        self, bot: Bot, message: Message, action: Action, exc: TelegramError
    ) -> None:
        """Switch `action` off where it was refused and say so, once, where moderators look."""
        key = chat_key(message.chat_id)
        async with self._refusals:
            policy = await self._store.policy(key, private=False)
            channel = policy.modlog if action is Action.MODLOG else str(message.chat_id)
            if channel is None or (channel, action) in policy.disabled:
                return
            log.warning("Telegram refused %s in %s: %s", action.value, message.chat_id, exc)
            await self._store.save_policy(key, without_action(policy, channel, action))
        notice = replies.permission_missing(action, chat_name(message.chat))
        target = (
            policy.modlog if policy.modlog and action is not Action.MODLOG else message.chat_id
        )
        try:
            await bot.send_message(target, notice)
        except TelegramError as error:
            log.warning("could not tell %s that %s is off: %s", target, action.value, error)


def _refusal(exc: TelegramError) -> bool:
    """A missing right or a forbidden chat, as opposed to a message that is already gone."""
    return isinstance(exc, Forbidden) or (
        isinstance(exc, BadRequest) and "not found" not in exc.message.lower()
    )
