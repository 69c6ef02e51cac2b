"""The catalogs: the template is current, every language has every message, translated, with the
same placeholders and all of Babel's plural forms; they compile; language tags find them.

`TestCompleteness` fails until the translators have filled every catalog (new messages come in
untranslated through `python -m bots.i18n`); everything else holds at every commit.
"""

from __future__ import annotations

import gettext
import io
import logging
import string
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.support import Translations

from bots.discord.translator import valid_slash_name
from bots.i18n import DOMAIN, LANGUAGES, LOCALES_DIR, SLASH_NAME, SOURCE, Catalogs, Words, extract

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [code for code in LANGUAGES if code != SOURCE]


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


def _catalog(code: str) -> Catalog:
    return _read(LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po", code)


def _ids(catalog: Catalog) -> dict[object, tuple[str, ...]]:
    """Each message (a plural one as its pair) with its translators' comments."""
    return {(m.context, m.id): tuple(m.auto_comments) for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _sources(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


def _translations(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return list(message.string)
    return [message.string or ""]


class TestTemplate:
    def test_the_template_is_current(self) -> None:
        """The .pot has exactly the messages the code says (`python -m bots.i18n` was run)."""
        assert _ids(_read(LOCALES_DIR / f"{DOMAIN}.pot")) == _ids(extract(ROOT))

    def test_every_catalog_follows_the_template(self) -> None:
        """Each .po lists the template's messages, no more, no fewer (translated or not)."""
        template = set(_ids(extract(ROOT)))
        for code in TRANSLATED:
            assert set(_ids(_catalog(code))) == template, code

    def test_placeholders_are_named(self) -> None:
        """No message uses positional `{}` or `%s`: translators may reorder named ones."""
        for message in extract(ROOT):
            for text in _sources(message) if message.id else []:
                assert "" not in _fields(text), text
                assert all(not name.isdigit() for name in _fields(text)), text


class TestCompleteness:
    """Fails until the translators have filled the catalogs."""

    @pytest.mark.parametrize("code", TRANSLATED)
    def test_every_message_is_translated(self, code: str) -> None:
        """Every message has a checked (not fuzzy) translation in every plural form Babel's
        rules give the language, with the source's placeholders."""
        forms = get_plural(code).num_plurals
        missing, wrong = [], []
        for message in _catalog(code):
            if not message.id:
                continue
            translations = _translations(message)
            plural = isinstance(message.id, tuple | list)
            if message.fuzzy or not all(translations) or (plural and len(translations) != forms):
                missing.append(_sources(message)[0])
                continue
            wanted = set().union(*(_fields(text) for text in _sources(message)))
            if plural:
                # A form for one thing may say "one" instead of {count}.
                wrong += [t for t in translations if not _fields(t) <= wanted]
                wrong += [t for t in translations if not (wanted - {"count"}) <= _fields(t)]
            else:
                wrong += [t for t in translations if _fields(t) != wanted]
        assert not missing, f"{code}: {len(missing)} untranslated, e.g. {missing[:3]}"
        assert not wrong, f"{code}: placeholders differ from the source in {wrong[:3]}"

    @pytest.mark.parametrize("code", TRANSLATED)
    def test_slash_command_names_are_names_discord_takes(self, code: str) -> None:
        """A Discord slash command's or option's name translates to a lowercase single word
        (Discord would otherwise be sent the English)."""
        names = [m for m in _catalog(code) if m.id and m.context == SLASH_NAME]
        assert names, "the template has Discord names"
        bad = [(m.id, m.string) for m in names if not valid_slash_name(str(m.string))]
        assert not bad, f"{code}: {bad}"


class TestLoading:
    def test_every_catalog_compiles_and_loads(self) -> None:
        """`Catalogs.load()` compiles every .po; each language has its Words."""
        catalogs = Catalogs.load()
        assert set(catalogs.codes) == set(LANGUAGES)
        for words in catalogs.each():
            assert words.gettext("An automated estimate (about 4 in 5 right), not proof.")

    @pytest.mark.parametrize(
        ("tag", "code"),
        [
            ("pt-br", "pt_BR"),
            ("pt-BR", "pt_BR"),
            ("pt_BR", "pt_BR"),
            ("pt", "pt_BR"),
            ("es-419", "es"),
            ("es-ES", "es"),
            ("en-GB", "en"),
            ("de", "de"),
            ("uk", "uk"),
            ("zz", "en"),
            ("", "en"),
            (None, "en"),
        ],
    )
    def test_language_tags_find_their_catalog(self, tag: str | None, code: str) -> None:
        """Discord locales, Telegram codes and saved choices resolve; unknown ones are English."""
        assert Catalogs.load().words(tag).code == code

    def test_an_unknown_tag_resolves_to_none(self) -> None:
        """`resolve` says when no catalog fits (a typed code to refuse), rather than English."""
        catalogs = Catalogs.load()
        assert catalogs.resolve("klingon") is None
        assert catalogs.resolve(None) is None
        assert catalogs.resolve("FR") == "fr"

    @pytest.mark.parametrize(("code", "shown"), [("en", "74%"), ("de", "74\xa0%"), ("tr", "%74")])
    def test_percentages_follow_the_locale(self, code: str, shown: str) -> None:
        """A probability is a whole percentage written the language's way."""
        assert Catalogs.load().words(code).percent(0.7392) == shown


class TestWords:
    def _french(self, translations: dict[object, object]) -> Words:
        catalog = Catalog(locale="fr", domain=DOMAIN)
        for source, translated in translations.items():
            catalog.add(source, translated)  # type: ignore[arg-type]
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        found: gettext.NullTranslations = Translations(compiled, domain=DOMAIN)
        return Words("fr", found, Locale.parse("fr"))

    def test_placeholders_are_filled_in_the_translations_order(self) -> None:
        """A translation may put the named values where its language wants them."""
        words = self._french({"{who} reports flag #{flag}": "Signalement n°{flag} par {who}"})
        assert words.gettext("{who} reports flag #{flag}", who="@ana", flag=7) == (
            "Signalement n°7 par @ana"
        )

    def test_plural_forms_follow_the_language(self) -> None:
        """French by Babel's rules: the singular for 0 and 1, its own form for whole millions
        ("d'images"), the plural otherwise."""
        forms = ("{count} image", "{count} d'images", "{count} images")
        words = self._french({("{count} frame", "{count} frames"): forms})
        counted = [words.ngettext("{count} frame", "{count} frames", n) for n in (0, 1, 2, 10**6)]
        assert counted == ["0 image", "1 image", "2 images", "1000000 d'images"]

    def test_a_broken_translation_says_the_english_instead(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A translation naming a value the message has not is logged, and the reply is said in
        English rather than failing."""
        words = self._french({"Flags will now be posted in {where}.": "Publiés dans {ou}."})
        with caplog.at_level(logging.ERROR, logger="bots.i18n"):
            said = words.gettext("Flags will now be posted in {where}.", where="#mods")
        assert said == "Flags will now be posted in #mods."
        assert "broken placeholders" in caplog.text
