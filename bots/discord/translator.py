"""The commands' names and descriptions in Discord's languages, from the bots' catalogs.

discord.py asks `CommandTree.sync` for every string of every command (names, descriptions,
option names and descriptions, choice names) in every Discord locale; `Translator` answers from
the catalog that locale resolves to ("es-ES" and "es-419" both Spanish, "pt-BR" Brazilian
Portuguese). English is the commands' default, so it, an untranslated message and a locale no
catalog fits get None: Discord then shows the default.

Discord refuses the whole sync if one localisation breaks its rules, so a translation that
would is left out for that locale (and logged once): a slash command's, group's or option's
name must be lowercase letters, digits, `-` or `_`, 1 to 32 of them; a message menu's name 1 to
32 characters; a description or a choice's name 1 to 100.
"""

from __future__ import annotations

import logging
import unicodedata

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bots.i18n import SLASH_NAME, SOURCE, Catalogs

log = logging.getLogger(__name__)

NAME_MAX = 32
TEXT_MAX = 100
_NAMES = frozenset({Where.command_name, Where.group_name, Where.parameter_name})
_NAME_PUNCTUATION = frozenset("-_")
_DEVANAGARI, _THAI = range(0x0900, 0x0980), range(0x0E00, 0x0E80)


class Translator(app_commands.Translator):
    """Looks a command's strings up in the catalog of each Discord locale."""

    def __init__(self, catalogs: Catalogs) -> None:
        self._catalogs = catalogs
        self._refused: set[tuple[str, str]] = set()  # (message, locale) logged already

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        code = self._catalogs.resolve(locale.value)
        if code is None or code == SOURCE:
            return None
        message = string.message
        words = self._catalogs.words(code)
        named = _slash_named(context)
        translated = words.pgettext(SLASH_NAME, message) if named else words.gettext(message)
        if translated == message:
            return None  # untranslated, or the same word: Discord shows the default
        if not fits(translated, context):
            if (message, locale.value) not in self._refused:
                self._refused.add((message, locale.value))
                log.warning(
                    "the %s translation of %r breaks Discord's rules for a %s (%r); "
                    "Discord shows the English there",
                    locale.value,
                    message,
                    context.location.name.replace("_", " "),
                    translated,
                )
            return None
        return translated


def _slash_named(context: app_commands.TranslationContextTypes) -> bool:
    """A slash command's, group's or option's name (marked with `bots.i18n.slash_name`)."""
    return context.location in _NAMES and not isinstance(context.data, app_commands.ContextMenu)


def fits(text: str, context: app_commands.TranslationContextTypes) -> bool:
    """Whether Discord accepts `text` where `context` says it goes."""
    if _slash_named(context):
        return valid_slash_name(text)
    if context.location is Where.command_name:  # a message menu's name: any 1 to 32 characters
        return 0 < len(text) <= NAME_MAX and text.strip() == text
    return 0 < len(text) <= TEXT_MAX and bool(text.strip())


def valid_slash_name(text: str) -> bool:
    """Discord's rule for slash command and option names: lowercase, 1 to 32 characters of
    ^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]$."""
    return 0 < len(text) <= NAME_MAX and text == text.lower() and all(map(_name_char, text))


def _name_char(char: str) -> bool:
    point = ord(char)
    return (
        char in _NAME_PUNCTUATION
        or unicodedata.category(char)[0] in "LN"
        or point in _DEVANAGARI
        or point in _THAI
    )
