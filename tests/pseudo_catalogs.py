"""Pseudo-translated catalogs, so tests can tell which language a bot spoke before (and whatever)
the translators write: every message of the template, in every catalog language, as
"[fr] <the English>", placeholders kept and every plural form filled.

Compiled by the real `Catalogs.load()` from `.po` files written like the real ones.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import write_po

from bots.i18n import DOMAIN, LANGUAGES, SOURCE, Catalogs, extract

ROOT = Path(__file__).resolve().parents[1]


def pseudo(code: str, english: str) -> str:
    """What a pseudo catalog says for `english`."""
    return f"[{code}] {english}"


def pseudo_catalogs(directory: Path) -> Catalogs:
    """Catalogs whose every language says "[code] " before the English, written under
    `directory`."""
    template = extract(ROOT)
    for code in LANGUAGES:
        if code == SOURCE:
            continue
        catalog = Catalog(locale=code, domain=DOMAIN, fuzzy=False)
        forms = get_plural(code).num_plurals
        for message in template:
            if not message.id:
                continue
            if isinstance(message.id, tuple | list):
                singular, plural = message.id
                strings = [pseudo(code, singular if n == 0 else plural) for n in range(forms)]
                catalog.add(message.id, tuple(strings), context=message.context)
            else:
                catalog.add(message.id, pseudo(code, message.id), context=message.context)
        path = directory / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog)
    return Catalogs.load(directory)
