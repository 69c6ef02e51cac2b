"""The Discord bot in its users' languages, end to end with the real discord.py client.

The commands' names and descriptions reach Discord localised in the sync; an interaction is
answered in the presser's language, a server's channel replies and mod-log posts in its own
(`/deepguard settings language`, else the server's language in Discord). Until translators fill
the project's catalogs, most tests bring pseudo-translated ones (tests/pseudo_catalogs.py: every
message as "[fr] <the English>"), so what is checked is which language each text is said in;
`test_an_interaction_in_pt_br_gets_the_project_catalogs_portuguese` uses the project's own and
fails until they are translated.
"""

from __future__ import annotations

import gettext
import logging
import unicodedata
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import discord
import pytest
from babel import Locale

from bots import replies
from bots.explain_replies import EXPLAIN_CAPTION, WHY_DATA
from bots.i18n import LANGUAGES, SLASH_NAME, SOURCE, Catalogs, Words, english
from bots.moderation_replies import (
    ADMINS_ONLY,
    TIMEOUT_REASON,
    flag_notice,
    language_choices,
    reply_bands,
    review_line,
)
from bots.replies import EXPLAIN_LEGEND
from config import Settings
from core.detector import Detector
from core.moderation.types import Action, FlagStatus, Mode, ModerationStore
from tests.discord import fake_discord as fd
from tests.discord.discord_harness import (
    answered,
    bot_running,
    bot_settings,
    followup_of,
    image,
    post,
    reply_to,
    serving,
)
from tests.discord.discord_mod_harness import GUILD, moderating, policy, served_mod_fake
from tests.discord.discord_payloads import Json
from tests.discord.fake_discord import FakeDiscord
from tests.discord.fake_discord_mod import (
    MODLOG_ID,
    NO_PERMISSIONS,
    ModFakeDiscord,
    click,
    deepguard,
    option,
    posted,
)
from tests.discord.test_why import answers_only, the_reply
from tests.fakes import png_bytes
from tests.pseudo_catalogs import pseudo, pseudo_catalogs

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


def siblings(commands: list[Json]) -> Iterator[list[Json]]:
    """The slash commands side by side, then each command's or group's options."""
    yield [command for command in commands if command.get("type", 1) == 1]
    for command in commands:
        yield from _children(command)


def _children(entry: Json) -> Iterator[list[Json]]:
    options = entry.get("options", [])
    if options:
        yield options
    for child in options:
        if child["type"] in (SUBCOMMAND, GROUP):
            yield from _children(child)


def clashing_names(commands: list[Json]) -> list[tuple[str, list[str]]]:
    """Names that two siblings share in some locale (Discord refuses the whole sync)."""
    clashes: list[tuple[str, list[str]]] = []
    for group in siblings(commands):
        locales = {locale for entry in group for locale in entry.get("name_localizations") or {}}
        for locale in sorted(locales):
            names = [
                str((entry.get("name_localizations") or {}).get(locale, entry["name"]))
                for entry in group
            ]
            if len(set(names)) < len(names):
                clashes.append((locale, names))
    return clashes


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


ENGLISH = english()
MARK = "ẋ"


class ValidNames(gettext.NullTranslations):
    """A made-up translation whose names Discord accepts: `MARK` before each message (the
    shared pseudo catalogs' "[es] check" is no valid command name); `broken` overrides some."""

    def __init__(self, broken: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._broken = dict(broken or {})

    def gettext(self, message: str) -> str:
        return self._broken.get(message, MARK + message)

    def pgettext(self, context: str, message: str) -> str:
        return self._broken.get(message, MARK + message)


class ButtonsAndNames(gettext.NullTranslations):
    """A catalog whose "react" is "Reagir" as a button and "reagir" as a slash-command option."""

    def gettext(self, message: str) -> str:
        return "Reagir" if message == "react" else message

    def pgettext(self, context: str, message: str) -> str:
        return "reagir" if (context, message) == (SLASH_NAME, "react") else message


def named_catalogs(broken: Mapping[str, str]) -> Catalogs:
    """English, Spanish and (with `broken` translations) Brazilian Portuguese."""
    return Catalogs(
        {
            SOURCE: ENGLISH,
            "es": Words("es", ValidNames(), Locale.parse("es")),
            "pt_BR": Words("pt_BR", ValidNames(broken), Locale.parse("pt_BR")),
        }
    )


@pytest.fixture(scope="module")
def pseudo_words(tmp_path_factory: pytest.TempPathFactory) -> Catalogs:
    """Every catalog pseudo-translated ("[fr] ..."), compiled once for the module."""
    return pseudo_catalogs(tmp_path_factory.mktemp("locales"))


async def started(
    fake: FakeDiscord, settings: Settings, detector: Detector, catalogs: Catalogs | None = None
) -> None:
    """Start the bot (which syncs its commands) and stop it again."""
    async with bot_running(fake, bot_settings(settings, fake), detector, catalogs=catalogs):
        pass


class TestCommandSync:
    async def test_the_sync_carries_localisations_within_discords_limits(
        self,
        monkeypatch: pytest.MonkeyPatch,
        settings: Settings,
        detector: Detector,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """With the project's catalogs, every command carries both localisation maps (options
        carry theirs once translated), and whatever they hold is for a Discord locale and within
        its limits; so are the English names and descriptions. No translation had to be left
        out, and /check is described in every catalog's Discord locales."""
        with caplog.at_level(logging.WARNING, logger="bots.discord.translator"):
            async with serving(monkeypatch) as served:
                await started(served, settings, detector)
        assert not [r.getMessage() for r in caplog.records if r.name == "bots.discord.translator"]
        commands = synced(served)
        translated = {
            locale.value
            for locale in discord.Locale
            if Catalogs.load().resolve(locale.value) not in (None, SOURCE)
        }
        assert {"es-ES", "es-419", "pt-BR", "fr", "de", "ru", "uk", "tr", "id"} <= translated
        assert set(named(commands, "check")["description_localizations"]) == translated
        assert clashing_names(commands) == []
        assert {command["name"] for command in commands} >= {"check", "deepguard", "explain"}
        for kind, entry in entries(commands):
            check_limits(kind, entry)
            if kind == "command" and "type" in entry and entry["type"] == 1:
                assert "name_localizations" in entry
                assert "description_localizations" in entry

    def test_sibling_names_that_clash_in_a_locale_are_found(self) -> None:
        """The clash check above can fail: two options translated alike are caught."""
        options = [
            {"type": 5, "name": "react", "name_localizations": {"de": "aktion"}},
            {"type": 5, "name": "warn", "name_localizations": {"de": "aktion"}},
        ]
        command = {"type": 1, "name": "actions", "options": options}
        assert clashing_names([command]) == [("de", ["aktion", "aktion"])]

    async def test_each_catalog_names_and_describes_the_commands_in_its_discord_locales(
        self,
        monkeypatch: pytest.MonkeyPatch,
        settings: Settings,
        detector: Detector,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Spanish goes to es-ES and es-419, Brazilian Portuguese to pt-BR; a translation Discord
        would refuse is left out for its locale (logged once), the rest still goes."""
        broken = {"image": "Imagem Grande", "The image, GIF or video to check": "y" * 101}
        with caplog.at_level(logging.WARNING, logger="bots.discord.translator"):
            async with serving(monkeypatch) as served:
                await started(served, settings, detector, named_catalogs(broken))
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
        assert image["name_localizations"] == dict.fromkeys({"es-ES", "es-419"}, MARK + "image")
        assert set(image["description_localizations"]) == {"es-ES", "es-419"}
        for kind, entry in entries(commands):
            check_limits(kind, entry)
        refused = [r for r in caplog.records if "'image'" in r.getMessage()]
        assert len(refused) == 1  # `image` of /check and of /explain: said once
        assert "pt-BR" in refused[0].getMessage()

    async def test_translated_descriptions_go_and_names_that_break_the_rules_do_not(
        self,
        monkeypatch: pytest.MonkeyPatch,
        settings: Settings,
        detector: Detector,
        pseudo_words: Catalogs,
    ) -> None:
        """The pseudo catalogs' "[de] check" is no command name: Discord gets the German
        description and keeps the English name."""
        async with serving(monkeypatch) as served:
            await started(served, settings, detector, pseudo_words)
        commands = synced(served)
        check = named(commands, "check")
        assert check["description_localizations"]["de"] == pseudo("de", check["description"])
        assert "de" not in check["name_localizations"]
        menu = named(commands, "Check for AI image")  # a menu's name may have spaces
        assert menu["name_localizations"]["de"] == pseudo("de", "Check for AI image")
        for kind, entry in entries(commands):
            check_limits(kind, entry)


async def test_an_option_name_has_its_own_entry_apart_from_the_same_word_as_a_button(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
) -> None:
    """A capitalised "Reagir" (a button's word) would break the option's name: the name is
    looked up in its own context, so Discord gets "reagir" and the button keeps its word."""
    catalogs = Catalogs(
        {SOURCE: ENGLISH, "pt_BR": Words("pt_BR", ButtonsAndNames(), Locale.parse("pt_BR"))}
    )
    assert catalogs.words("pt-BR").gettext("react") == "Reagir"
    async with serving(monkeypatch) as served:
        await started(served, settings, detector, catalogs)
    react = named(synced(served), "deepguard", "settings", "actions", "react")
    assert react["name_localizations"] == {"pt-BR": "reagir"}


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
        assert ephemeral(refused) == language_choices(ENGLISH, typed="xx")
        assert await saved_language(store) is None

    async def test_a_member_without_manage_server_is_refused(
        self, fake: ModFakeDiscord, settings: Settings, detector: Detector, store: ModerationStore
    ) -> None:
        """Only a server's managers choose its language."""
        async with moderating(fake, settings, detector, store):
            refused = await answered(fake, language("fr", permissions=NO_PERMISSIONS))
        assert ephemeral(refused) == ADMINS_ONLY
        assert await saved_language(store) is None

    async def test_answers_are_in_the_askers_language(
        self,
        fake: ModFakeDiscord,
        settings: Settings,
        detector: Detector,
        store: ModerationStore,
        pseudo_words: Catalogs,
    ) -> None:
        """A member whose Discord speaks German is refused in German, and a Ukrainian manager
        sees the panel in Ukrainian, whatever the server's language."""
        async with moderating(fake, settings, detector, store, pseudo_words):
            refused = await answered(
                fake, {**language("fr", permissions=NO_PERMISSIONS), "locale": "de"}
            )
            shown = await answered(fake, {**deepguard("settings", "show"), "locale": "uk"})
        assert ephemeral(refused) == pseudo("de", ADMINS_ONLY)
        assert ephemeral(shown).startswith(pseudo("uk", "DeepGuard settings:"))


def outcomes(words: Words, bands: Any, *judged: Any) -> str:
    return replies.outcomes_text(words, list(judged), bands)


def labels(body: Json) -> list[str]:
    return [button["label"] for row in body.get("components", []) for button in row["components"]]


class TestAnswers:
    async def test_an_interaction_is_answered_in_the_pressers_language(
        self,
        monkeypatch: pytest.MonkeyPatch,
        settings: Settings,
        detector: Detector,
        pseudo_words: Catalogs,
    ) -> None:
        """`/check` from a member whose Discord speaks Brazilian Portuguese, in a server that
        speaks English, is answered in Portuguese."""
        data = png_bytes(300)
        async with serving(monkeypatch) as served:
            configured = bot_settings(settings, served)
            async with bot_running(served, configured, detector, catalogs=pseudo_words):
                payload = {**fd.slash_check(served.attachment("p.png", data)), "locale": "pt-BR"}
                callback = await answered(served, payload)
        judged = await detector.judge(data)
        portuguese = outcomes(pseudo_words.words("pt-BR"), configured.replies, judged)
        assert ephemeral(callback) == portuguese
        assert portuguese != outcomes(ENGLISH, configured.replies, judged)

    async def test_an_interaction_in_pt_br_gets_the_project_catalogs_portuguese(
        self, monkeypatch: pytest.MonkeyPatch, settings: Settings, detector: Detector
    ) -> None:
        """With the project's own catalogs a pt-BR member gets Portuguese, not English. Fails
        until the catalogs are translated."""
        catalogs = Catalogs.load()
        data = png_bytes(301)
        async with serving(monkeypatch) as served:
            configured = bot_settings(settings, served)
            async with bot_running(served, configured, detector, catalogs=catalogs):
                payload = {**fd.slash_check(served.attachment("p.png", data)), "locale": "pt-BR"}
                callback = await answered(served, payload)
        judged = await detector.judge(data)
        portuguese = outcomes(catalogs.words("pt-BR"), configured.replies, judged)
        assert ephemeral(callback) == portuguese
        assert portuguese != outcomes(ENGLISH, configured.replies, judged)

    async def test_a_server_set_to_french_gets_french_modlog_posts(
        self,
        fake: ModFakeDiscord,
        settings: Settings,
        detector: Detector,
        store: ModerationStore,
        pseudo_words: Catalogs,
    ) -> None:
        """After `/deepguard settings language fr` a flag's mod-log post and its buttons are in
        French, and a review pressed by a pt-BR moderator adds a French line to it."""
        french = pseudo_words.words("fr")
        await store.save_policy(GUILD, policy())
        async with moderating(fake, settings, detector, store, pseudo_words):
            chosen = await answered(fake, language("fr"))
            message = await post(fake, **image(fake, 302))
            await fake.wait_for(lambda: fake.bodies(f"/channels/{MODLOG_ID}/messages"))
            (notice,) = fake.bodies(f"/channels/{MODLOG_ID}/messages")
            press = {**click("deepguard:dismiss:1", posted(notice, MODLOG_ID)), "locale": "pt-BR"}
            reviewed = await answered(fake, press)
        flag = await store.get_flag(1)
        assert flag is not None
        assert "• language: Français" in ephemeral(chosen)
        link = f"https://discord.com/channels/{fd.GUILD_ID}/{fd.CHANNEL_ID}/{message['id']}"
        who, where = f"<@{fd.HUMAN['id']}>", f"<#{fd.CHANNEL_ID}>"
        assert notice["content"] == flag_notice(
            french, 1, who, where, flag.flag.fake_probability, link
        )
        assert labels(notice) == [pseudo("fr", "Confirm (delete)"), pseudo("fr", "Dismiss")]
        line = review_line(french, FlagStatus.DISMISSED, who)
        assert reviewed["data"]["content"] == f"{notice['content']}\n{line}"

    async def test_a_french_servers_time_out_gives_its_reason_in_french(
        self,
        fake: ModFakeDiscord,
        settings: Settings,
        detector: Detector,
        store: ModerationStore,
        pseudo_words: Catalogs,
    ) -> None:
        """The reason a time-out writes into the server's audit log is in the server's
        language, as its mod-log posts are."""
        await store.save_policy(GUILD, policy(actions=frozenset({Action.TIMEOUT}), language="fr"))
        members = f"/guilds/{fd.GUILD_ID}/members/{fd.HUMAN['id']}"
        async with moderating(fake, settings, detector, store, pseudo_words):
            await post(fake, **image(fake, 305))
            await fake.wait_for(lambda: fake.sent(members, "PATCH"))
        [request] = fake.sent(members, "PATCH")
        reason = urllib.parse.unquote(request.headers["X-Audit-Log-Reason"])
        assert reason == pseudo("fr", TIMEOUT_REASON)

    async def test_a_server_speaking_german_in_discord_gets_german_replies(
        self,
        monkeypatch: pytest.MonkeyPatch,
        settings: Settings,
        detector: Detector,
        store: ModerationStore,
        pseudo_words: Catalogs,
    ) -> None:
        """A server whose Discord language is German and that chose none gets its channel
        replies in German, with a German "Why?" button."""
        answering = policy(mode=Mode.REPLY_ALL, actions=frozenset({Action.REACT}), modlog=None)
        await store.save_policy(GUILD, answering)
        german = pseudo_words.words("de")
        data = png_bytes(303)
        async with serving(monkeypatch, ModFakeDiscord, preferred_locale="de") as served:
            assert isinstance(served, ModFakeDiscord)
            async with moderating(served, settings, detector, store, pseudo_words):
                message = await post(served, attachments=[served.attachment("d.png", data)])
                (reply,) = await reply_to(served, message)
        judged = (await detector.judge(data)).with_policy(
            declared_ai_is_fake=answering.declared_ai_is_fake
        )
        assert reply["content"] == outcomes(german, reply_bands(answering), judged)
        assert labels(reply) == [pseudo("de", "Report a mistake"), pseudo("de", "Why?")]
        assert await saved_language(store) is None

    async def test_why_is_answered_in_the_pressers_language(
        self,
        monkeypatch: pytest.MonkeyPatch,
        settings: Settings,
        detector: Detector,
        pseudo_words: Catalogs,
    ) -> None:
        """The Why? button under an English reply, pressed from a Turkish Discord, answers with
        a Turkish caption, which carries the legend the picture draws in English."""
        async with serving(monkeypatch) as served:
            configured = bot_settings(settings, served)
            store = await answers_only()
            async with bot_running(served, configured, detector, store, catalogs=pseudo_words):
                original = await post(served, **image(served, 304))
                served.messages[original["id"]] = original
                (body,) = await reply_to(served, original)
                pressed = {**click(WHY_DATA, the_reply(served, original, body)), "locale": "tr"}
                await answered(served, pressed)
                followup = await followup_of(served, pressed)
        assert labels(body)[-1] == "Why?"
        assert followup["content"] == (
            f"{pseudo('tr', EXPLAIN_CAPTION)}\n{pseudo('tr', EXPLAIN_LEGEND)}"
        )


def test_every_catalog_is_reached_from_a_discord_locale() -> None:
    """Each catalog, English included, is what at least one Discord locale resolves to."""
    catalogs = Catalogs.load()
    reached = {catalogs.resolve(locale.value) for locale in discord.Locale}
    assert set(LANGUAGES) <= reached
