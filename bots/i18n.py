"""The bots' words in the users' languages: gettext catalogs, compiled from their `.po` sources at
start (nothing to compile by hand), plural rules and percentages from Babel.

Every user-facing string goes through a `Words`, one language's catalog:

    words.gettext("I couldn't check this image: {reason}.", reason=reason)
    words.ngettext("{count} frame", "{count} frames", count)
    words.percent(0.74)                      # "74%", "74 %" in German, "%74" in Turkish

Placeholders are named (`{name}`), so translators can reorder them. A message defined away from
where it is said (a constant, a core error's reason) is marked with `N_` where it is written
and translated with `words.gettext(...)` where it is used; `N_` is defined once, in
`core.errors`, so the core marks its errors' reasons without knowing the bots. English is the
source language: its words are the messages themselves.

`Catalogs.load()` is built once in `main()` and passed to the adapters, which pick a chat's
`Words` with `catalogs.words(code)`: a Discord locale ("pt-BR", "es-ES"), a Telegram
`language_code` ("pt-br", "de") or a chat's saved choice ("fr"); anything unknown is English.

The `.pot` template and the `.po` catalogs live in `bots/locales/`. After changing a message,
`python -m bots.i18n` extracts the template again and merges it into every catalog (new messages
come in untranslated; tests/bots/test_catalogs.py fails until each is translated).
"""

from __future__ import annotations

import argparse
import gettext
import io
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_percent
from babel.support import Translations

from core.errors import N_

__all__ = ["LANGUAGES", "N_", "Catalogs", "Words", "english", "extract", "update"]

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "deepguard"
SOURCE = "en"

# The languages the bots speak, by catalog code, each named in its own language (for menus).
LANGUAGES: Mapping[str, str] = {
    "en": "English",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "fr": "Français",
    "de": "Deutsch",
    "ru": "Русский",
    "uk": "Українська",
    "tr": "Türkçe",
    "id": "Bahasa Indonesia",
}

# What `pybabel extract` would be told: the functions whose first arguments are messages.
KEYWORDS: Mapping[str, tuple[int, ...] | None] = {"gettext": None, "ngettext": (1, 2), "N_": None}
# Discord's slash-command and option names have entries of their own (this context), marked with
# `slash_name`: the same English word elsewhere ("react", a button) may be capitalised or two
# words, which Discord refuses in a name.
SLASH_NAME = "Discord slash-command or option name"
# Where messages are written: the bots' words, and the reasons the core's errors give (and the
# remote core's, which reach chats through `api.client`). `N_` is defined once, in
# `core.errors`, so the core can mark its reasons without knowing the bots.
SOURCES = ("bots", "core", "api")


def slash_name(message: str) -> str:
    """Mark a Discord slash command's or option's name: translated with the `SLASH_NAME`
    context (`words.pgettext(SLASH_NAME, message)`), apart from the same word elsewhere."""
    return message


@dataclass(frozen=True, slots=True)
class Words:
    """One language's catalog."""

    code: str  # a key of LANGUAGES
    translations: gettext.NullTranslations
    locale: Locale

    def gettext(self, message: str, /, **values: object) -> str:
        """`message` in this language, its `{placeholders}` filled from `values`."""
        translated = self.translations.gettext(message)
        if not values:
            return translated
        return _filled(translated, message, values)

    def pgettext(self, context: str, message: str, /) -> str:
        """`message` as the catalogs translate it in `context` (see `SLASH_NAME`)."""
        return self.translations.pgettext(context, message)

    def ngettext(self, singular: str, plural: str, count: int, /, **values: object) -> str:
        """The form of a counting message that fits `count` (also there as `{count}`)."""
        translated = self.translations.ngettext(singular, plural, count)
        source = singular if count == 1 else plural
        return _filled(translated, source, {"count": count, **values})

    def percent(self, probability: float) -> str:
        """A probability as a whole percentage written this language's way."""
        return format_percent(round(probability * 100) / 100, locale=self.locale)

    @property
    def tag(self) -> str:
        """The language as a BCP 47 tag ("pt-BR"), as Discord and Telegram spell languages."""
        return self.code.replace("_", "-")


def _filled(translated: str, source: str, values: Mapping[str, object]) -> str:
    """A translation's placeholders filled; a broken translation (a placeholder misspelt) is
    logged and the English said instead, rather than failing the reply."""
    try:
        return translated.format(**values)
    except (KeyError, IndexError, ValueError):
        log.error("a translation of %r has broken placeholders: %r", source, translated)
        return source.format(**values)


def english() -> Words:
    """The source language's `Words`, for what always speaks English (the CLI, its tests)."""
    return Words(SOURCE, gettext.NullTranslations(), Locale.parse(SOURCE))


class Catalogs:
    """Every language's `Words`, compiled from the `.po` sources once at start."""

    def __init__(self, words: Mapping[str, Words]) -> None:
        if SOURCE not in words:
            raise ValueError("the catalogs need the source language")
        self._words = dict(words)

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR) -> Catalogs:
        words = {SOURCE: english()}
        for code in LANGUAGES:
            if code == SOURCE:
                continue
            path = directory / code / "LC_MESSAGES" / f"{DOMAIN}.po"
            with path.open("rb") as source:
                catalog = read_po(source, locale=code, domain=DOMAIN)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)  # fuzzy (unchecked) translations are left out
            compiled.seek(0)
            words[code] = Words(code, Translations(compiled, domain=DOMAIN), Locale.parse(code))
        return cls(words)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._words)

    def resolve(self, tag: str | None) -> str | None:
        """The catalog for a language tag, or None when no catalog fits.

        "pt-br", "pt-BR" and "pt_BR" are Brazilian Portuguese; a region the catalogs lack falls
        back to the language ("es-419", "en-GB", "de-AT"); plain "pt" is Brazilian Portuguese.
        """
        if not tag:
            return None
        parts = tag.replace("_", "-").split("-")
        language = parts[0].lower()
        region = parts[1].upper() if len(parts) > 1 else ""
        for candidate in (f"{language}_{region}", language):
            if candidate in self._words:
                return candidate
        regional = [code for code in self._words if code.split("_")[0] == language]
        return regional[0] if regional else None

    def words(self, tag: str | None) -> Words:
        """The `Words` for a language tag; English when there is none or no catalog fits."""
        return self._words[self.resolve(tag) or SOURCE]

    def each(self) -> Iterable[Words]:
        return self._words.values()


def extract(root: Path) -> Catalog:
    """Every message the code under `root` says, as the `.pot` template."""
    template = Catalog(
        project="DeepGuard", domain=DOMAIN, copyright_holder="DeepGuard contributors", fuzzy=False
    )
    passes: list[tuple[Mapping[str, tuple[int, ...] | None], str | None]] = [
        (KEYWORDS, None),
        ({"slash_name": None}, SLASH_NAME),
    ]
    for keywords, fixed_context in passes:
        for source in SOURCES:
            for filename, lineno, message, comments, context in extract_from_dir(
                root / source, keywords=dict(keywords), comment_tags=("TRANSLATORS:",)
            ):
                template.add(
                    message,
                    locations=[(f"{source}/{filename}", lineno)],
                    # A marked name's context says what it is; comments near it are others'.
                    auto_comments=[] if fixed_context else comments,
                    context=fixed_context or context,
                )
    return template


def _said(catalog: Catalog) -> list[tuple[object, object, tuple[str, ...]]]:
    """A catalog's messages and their translators' comments, in order (what a change is)."""
    return [(m.context, m.id, tuple(m.auto_comments)) for m in catalog if m.id]


def update(root: Path, directory: Path = LOCALES_DIR) -> None:
    """Extract the template again and merge it into every catalog (creating missing ones).

    While the messages stay the same, the template keeps its creation date, so running this
    again (on any branch) changes no file but for moved line numbers.
    """
    template = extract(root)
    directory.mkdir(parents=True, exist_ok=True)
    pot = directory / f"{DOMAIN}.pot"
    if pot.exists():
        with pot.open("rb") as source:
            previous = read_po(source, domain=DOMAIN)
        if _said(previous) == _said(template):
            template.creation_date = previous.creation_date
    with pot.open("wb") as out:
        write_po(out, template, width=99, omit_header=False)
    for code in LANGUAGES:
        if code == SOURCE:
            continue
        path = directory / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            with path.open("rb") as source:
                catalog = read_po(source, locale=code, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(
                locale=code,
                domain=DOMAIN,
                project="DeepGuard",
                copyright_holder="DeepGuard contributors",
                fuzzy=False,
            )
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=99, ignore_obsolete=True, include_previous=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bots.i18n",
        description="Extract the bots' messages and merge them into every catalog.",
    )
    parser.parse_args(argv)
    update(Path(__file__).resolve().parent.parent)


if __name__ == "__main__":
    main()
