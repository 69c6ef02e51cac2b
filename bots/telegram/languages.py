"""Which language the Telegram bot speaks where, and its command menus in every language.

A private chat is answered in its user's `language_code` (the app's language, as Telegram
reports it; "pt-br" is Brazilian Portuguese, an unknown code English). A group speaks its own
language, chosen with `/settings language <code>` and kept in its policy (English until then).
A button's private answer (`answerCallbackQuery`) is in the presser's language, an edit of a
group's post in that group's.

Telegram shows a command menu in the user's app language when one was registered for it with
`setMyCommands(language_code=...)`, a two-letter ISO 639-1 code; the menu registered without one
is the fallback (English). Brazilian Portuguese is registered as "pt", the only Portuguese.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeAllChatAdministrators, Message, User
from telegram.error import TelegramError

from bots import moderation_replies, replies
from bots.i18n import SOURCE, Catalogs, Words
from bots.outage import Outage
from bots.telegram.chats import chat_key, is_private
from core.moderation.types import ModerationStore

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 256  # Bot API limit of a BotCommand's description


def user_language(user: User | None) -> str | None:
    """The language tag of a user's app, when Telegram says it."""
    return user.language_code if user is not None else None


def answer_language(message: Message) -> str | None:
    """A private chat's answers go to its user, in their language; a group's: None."""
    return user_language(message.from_user) if is_private(message) else None


class Languages:
    """The `Words` to answer a message, a press or a group in; the store keeps groups' choices."""

    def __init__(self, catalogs: Catalogs, store: ModerationStore, outage: Outage) -> None:
        self.catalogs = catalogs
        self._store = store
        self._outage = outage

    def of(self, user: User | None) -> Words:
        """A person's language: a private answer, a button's private notice."""
        return self.catalogs.words(user_language(user))

    async def group(self, chat_id: int | str) -> Words:
        """The group's chosen language (English while the database cannot be reached)."""
        policy = await self._outage.attempt(
            self._store.policy(chat_key(chat_id), private=False), None
        )
        return self.catalogs.words(policy.language if policy is not None else None)

    async def of_message(self, message: Message) -> Words:
        """The language to answer `message` in: its user's in private, else its group's."""
        if is_private(message):
            return self.of(message.from_user)
        return await self.group(message.chat_id)


def menu_language(code: str) -> str:
    """The `language_code` Telegram takes for a catalog: "pt_BR" -> "pt"."""
    return code.split("_")[0]


def command_menus(words: Words) -> tuple[list[BotCommand], list[BotCommand]]:
    """Everyone's commands and the administrators' (the same plus moderation), in `words`."""
    everyone = [_command(words, n, t) for n, t in replies.COMMAND_DESCRIPTIONS.items()]
    admins = [
        _command(words, n, t) for n, t in moderation_replies.ADMIN_COMMAND_DESCRIPTIONS.items()
    ]
    return everyone, everyone + admins


def _command(words: Words, name: str, description: str) -> BotCommand:
    return BotCommand(name, words.gettext(description)[:MAX_DESCRIPTION])


async def announce_commands(bot: Bot, catalogs: Catalogs) -> None:
    """Fill Telegram's command menus in every language (administrators also see moderation);
    English without a language code is every other language's fallback. A failure costs a
    menu, not the bot."""
    for words in catalogs.each():
        language = None if words.code == SOURCE else menu_language(words.code)
        everyone, admins = command_menus(words)
        try:
            await bot.set_my_commands(everyone, language_code=language)
            await bot.set_my_commands(
                admins, BotCommandScopeAllChatAdministrators(), language_code=language
            )
        except TelegramError as exc:
            log.warning("could not set the telegram command menu (%s): %s", words.code, exc)
