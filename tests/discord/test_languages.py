"""The Discord bot in its users' languages, end to end with the real discord.py client.

The commands' names and descriptions reach Discord localised in the sync; `/deepguard settings
language` sets a server's language. Until translators fill the project's catalogs, most tests
bring pseudo-translated ones (tests/discord/pseudo_catalogs.py), which change every message, so
what is checked is that each text is said in the right language.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator
from typing import Any

import discord
import pytest

from bots.discord.settings import LANGUAGE_UNKNOWN
from bots.i18n import LANGUAGES, Catalogs
from bots.moderation_replies import ADMINS_ONLY
from config import Settings
from core.detector import Detector
from core.moderation.types import ModerationStore
from tests.discord.discord_harness import answered, bot_running, bot_settings, serving
from tests.discord.discord_mod_harness import GUILD, moderating, served_mod_fake
from tests.discord.discord_payloads import Json
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_discord_mod import NO_PERMISSIONS, ModFakeDiscord, deepguard, option
from tests.discord.pseudo_catalogs import MARK, pseudo_catalogs

pytestmark = pytest.mark.slow

fake = pytest.fixture(served_mod_fake)

DISCORD_LOCALES = frozenset(locale.value for locale in discord.Locale)
SUBCOMMAND, GROUP, STRING = 1, 2, 3


def synced(fake: FakeDiscord) -> list[Json]:
    """The commands of the (one) sync, as the bot sent them."""
    [sync] = fake.sent(r"/applications/\d+(/guilds/\d+)?/commands", "PUT")
    commands: list[Json] = sync.body
    return commands


def entries(commands: list[Json]) -> Iterator[tuple[str, Json]]:
    """Every command, group, subcommand, option and choice, with what kind of entry it is."""
    for command in commands:
        yield ("menu" if command.get("type") == 3 else "command"), command
        yield from _options(command.get("options", []))


def _options(options: list[Json]) -> Iterator[tuple[str, Json]]:
    for entry in options:
        yield "option", entry
        for choice in entry.get("choices", []):
            yield "choice", choice
        if entry["type"] in (SUBCOMMAND, GROUP):
            yield from _options(entry.get("options", []))


def discord_name(text: str) -> bool:
    """Discord's rule for slash command and option names (the API docs' regex, lowercase)."""
    allowed = all(
        char in "-_"
        or unicodedata.category(char)[0] in "LN"
        or "\u0900" <= char <= "\u097f"
        or "\u0e00" <= char <= "\u0e7f"
        for char in text
    )
    return 0 < len(text) <= 32 and allowed and text == text.lower()


def check_limits(kind: str, entry: Json) -> None:
    """Every localisation of `entry` is for a Discord locale and within Discord's limits."""
    names = entry.get("name_localizations") or {}
    descriptions = entry.get("description_localizations") or {}
    assert set(names) <= DISCORD_LOCALES
    assert set(descriptions) <= DISCORD_LOCALES
    for name in [entry["name"], *names.values()]:
        if kind in ("command", "option"):
            assert discord_name(name), name
        else:  # a menu's or a choice's name
            assert 0 < len(name) <= (32 if kind == "menu" else 100), name
    for description in [entry.get("description", "x"), *descriptions.values()]:
        assert 0 < len(description) <= 100, description


def named(commands: list[Json], *path: str) -> Json:
    """The command, group or option at `path` by English names."""
    found: list[Json] = commands
    entry: Json = {}
    for name in path:
        entry = next(item for item in found if item["name"] == name)
        found = entry.get("options", [])
    return entry


async def started(
    fake: FakeDiscord, settings: Settings, detector: Detector, catalogs: Catalogs | None = None
) -> None:
    """Start the bot (which syncs its commands) and stop it again."""
    async with bot_running(fake, bot_settings(settings, fake), detector, catalogs=catalogs):
        pass


class TestCommandSync:
    async def test_the_sync_carries_localisations_within_discords_limits(
        self, monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
    ) -> None:
        """With the project's catalogs, every command carries both localisation maps (options
        carry theirs once translated), and whatever they hold is for a Discord locale and within
        its limits; so are the English names and descriptions."""
        async with serving(monkeypatch) as served:
            await started(served, settings, detector)
        commands = synced(served)
        assert {command["name"] for command in commands} >= {"check", "deepguard", "explain"}
        for kind, entry in entries(commands):
            check_limits(kind, entry)
            if kind == "command" and "type" in entry and entry["type"] == 1:
                assert "name_localizations" in entry
                assert "description_localizations" in entry

    async def test_each_catalog_names_and_describes_the_commands_in_its_discord_locales(
        self,
        monkeypatch: pytest.MonkeyPatch,
        settings: Settings,
        detector: Detector,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Spanish goes to es-ES and es-419, Brazilian Portuguese to pt-BR; a translation Discord
        would refuse is left out for its locale (logged once), the rest still goes."""
        broken = {"image": "Imagem Grande", "The image to check": "y" * 101}
        catalogs = pseudo_catalogs(("es", "pt_BR"), broken={"pt_BR": broken})
        with caplog.at_level(logging.WARNING, logger="bots.discord.translator"):
            async with serving(monkeypatch) as served:
                await started(served, settings, detector, catalogs)
        commands = synced(served)
        locales = {"es-ES", "es-419", "pt-BR"}
        check = named(commands, "check")
        assert check["name_localizations"] == dict.fromkeys(locales, MARK + "check")
        assert set(check["description_localizations"]) == locales
        menu = named(commands, "Check for AI image")
        assert menu["name_localizations"]["pt-BR"] == MARK + "Check for AI image"
        mode = named(commands, "deepguard", "settings", "mode", "mode")
        assert {choice["name_localizations"]["es-419"] for choice in mode["choices"]} == {
            MARK + "reply-all",
            MARK + "flag-only",
            MARK + "off",
        }
        image = named(commands, "check", "image")
        assert image["name_localizations"] == {"es-ES": "ẋimage", "es-419": "ẋimage"}
        assert set(image["description_localizations"]) == {"es-ES", "es-419"}
        for kind, entry in entries(commands):
            check_limits(kind, entry)
        refused = [r for r in caplog.records if "'image'" in r.getMessage()]
        assert len(refused) == 1  # `image` of /check and of /explain: said once
        assert "pt-BR" in refused[0].getMessage()


async def saved_language(store: ModerationStore) -> str | None:
    return (await store.policy(GUILD, private=False)).language


def ephemeral(callback: Json) -> str:
    assert callback["data"]["flags"] & 64
    return str(callback["data"]["content"])


def language(code: str, **parts: Any) -> Json:
    """`/deepguard settings language <code>`."""
    return deepguard("settings", "language", options=[option("language", code, STRING)], **parts)


class TestLanguageSetting:
    async def test_a_moderator_sets_the_servers_language_and_the_panel_shows_it(
        self, fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
    ) -> None:
        """`fr` is saved; "server" goes back to the server's Discord language, shown by name."""
        async with moderating(fake, settings, detector, store):
            chosen = await answered(fake, language("fr"))
            saved = await saved_language(store)
            back = await answered(fake, {**language("server"), "guild_locale": "de"})
        assert saved == "fr"
        assert "• language: Français" in ephemeral(chosen)
        assert await saved_language(store) is None
        assert "• language: Deutsch (the server's language in Discord)" in ephemeral(back)

    async def test_an_unknown_language_is_refused_politely(
        self, fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
    ) -> None:
        """A code the bot has no catalog for (a forged or outdated choice) changes nothing."""
        async with moderating(fake, settings, detector, store):
            refused = await answered(fake, language("xx"))
        languages = ", ".join(LANGUAGES.values())
        assert ephemeral(refused) == LANGUAGE_UNKNOWN.format(code="xx", languages=languages)
        assert await saved_language(store) is None

    async def test_a_member_without_manage_server_is_refused(
        self, fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
    ) -> None:
        """Only a server's managers choose its language."""
        async with moderating(fake, settings, detector, store):
            refused = await answered(fake, language("fr", permissions=NO_PERMISSIONS))
        assert ephemeral(refused) == ADMINS_ONLY
        assert await saved_language(store) is None

    async def test_the_refusal_is_in_the_askers_language(
        self, fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
    ) -> None:
        """A member whose Discord speaks German is refused in German."""
        catalogs = pseudo_catalogs()
        async with moderating(fake, settings, detector, store, catalogs):
            refused = await answered(
                fake, {**language("fr", permissions=NO_PERMISSIONS), "locale": "de"}
            )
        assert ephemeral(refused) == catalogs.words("de").gettext(ADMINS_ONLY)
        assert ephemeral(refused) != ADMINS_ONLY


def test_every_discord_locale_of_a_catalog_is_found() -> None:
    """Each catalog but English is reached from at least one Discord locale."""
    catalogs = Catalogs.load()
    reached = {catalogs.resolve(locale.value) for locale in discord.Locale}
    assert set(LANGUAGES) <= reached
