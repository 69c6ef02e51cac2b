"""Made-up catalogs for the Discord language tests, while the real ones wait for translators.

A pseudo-translation ("ẋ" before every message) is a translation as far as the bot can tell:
it changes every string, keeps the placeholders, and fits wherever the English fits but for one
character. `broken` replaces chosen messages of a catalog with translations Discord would
refuse.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping

from babel import Locale

from bots.i18n import SOURCE, Catalogs, Words

MARK = "ẋ"


class Pseudo(gettext.NullTranslations):
    """Every message with `MARK` before it, or its entry in `broken`."""

    def __init__(self, broken: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._broken = dict(broken or {})

    def gettext(self, message: str) -> str:
        return self._broken.get(message, MARK + message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return self.gettext(msgid1 if n == 1 else msgid2)


def pseudo_catalogs(
    codes: tuple[str, ...] = ("es", "pt_BR", "fr", "de"),
    broken: Mapping[str, Mapping[str, str]] | None = None,
) -> Catalogs:
    """English as it is, and a pseudo-translation for each of `codes`; `broken` maps a code to
    the messages it translates badly."""
    words = {SOURCE: Words(SOURCE, gettext.NullTranslations(), Locale.parse(SOURCE))}
    for code in codes:
        words[code] = Words(code, Pseudo((broken or {}).get(code)), Locale.parse(code))
    return Catalogs(words)
