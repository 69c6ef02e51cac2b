"""Who and where, as moderation sees a Telegram message: chat keys, admins, names and links.

Telegram tells a bot nothing about permissions in an update, so an administrator is checked
with `getChatMember` on every call. An anonymous administrator posts as the group itself
(`sender_chat` is the chat), which only administrators can do, so that is accepted as is.
"""

from __future__ import annotations

import logging

from telegram import Bot, Chat, Message, User
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from core.moderation.types import ChatKey, ModerationStore, UploadContext

log = logging.getLogger(__name__)

PLATFORM = "telegram"
ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})


def chat_key(chat_id: int | str) -> ChatKey:
    return ChatKey(PLATFORM, str(chat_id))


async def first_time(store: ModerationStore, message: Message) -> bool:
    """Whether a command is new: Telegram redelivers unconfirmed updates after a restart."""
    return await store.claim(chat_key(message.chat_id), f"{message.message_id}:command")


def is_private(message: Message) -> bool:
    return message.chat.type == Chat.PRIVATE


def author_id(message: Message) -> str:
    """The poster's user id, or the id of the chat it spoke as (channels, anonymous admins)."""
    if message.sender_chat is not None:
        return str(message.sender_chat.id)
    if message.from_user is not None:
        return str(message.from_user.id)
    return str(message.chat_id)


def upload_context(message: Message, *, requested: bool = False) -> UploadContext:
    """The policy's view of an image message; Telegram groups have one "channel": the chat."""
    return UploadContext(
        private=is_private(message),
        channel=str(message.chat_id),
        user=author_id(message),
        requested=requested,
    )


async def is_admin(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Whether the user administers the chat now; a failed check is a no."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.warning("could not check the status of %s in %s: %s", user_id, chat_id, exc)
        return False
    return member.status in ADMIN_STATUSES


async def sender_is_admin(bot: Bot, message: Message) -> bool:
    """Whether the sender of a command may configure its chat."""
    if is_private(message):
        return True  # the one user of a private chat is its only moderator
    if message.sender_chat is not None:
        return message.sender_chat.id == message.chat_id  # an anonymous administrator
    if message.from_user is None:
        return False
    return await is_admin(bot, message.chat_id, message.from_user.id)


def display_name(user: User | Chat | None) -> str:
    """@username when there is one, else the name with the id (names are not unique)."""
    if user is None:
        return "someone"
    if user.username:
        return f"@{user.username}"
    name = user.full_name if isinstance(user, User) else (user.title or user.full_name)
    return f"{name} ({user.id})"


def poster_name(message: Message) -> str:
    return display_name(message.sender_chat or message.from_user)


def chat_name(chat: Chat) -> str:
    return chat.title or display_name(chat)
