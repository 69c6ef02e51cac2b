"""Telegram in the users' languages, end to end: private chats in the user's `language_code`,
groups in the language set with `/settings language <code>`, buttons answering the presser in
theirs, and the command menus registered per language.

Real PTB client, fake Bot API, tiny model, SQLite store. Most tests run on pseudo-translated
catalogs ("[fr] ..."), so the language of every word shows whatever the translators write;
`test_a_german_private_chat_gets_german_help_and_verdict` runs on the real catalogs and fails
until the German catalog is translated.
"""

from __future__ import annotations

from typing import Any

import pytest

from bots import moderation_replies, replies
from bots.explain_replies import EXPLAIN_CAPTION, WHY_BUTTON, WHY_DATA
from bots.i18n import LANGUAGES, SOURCE, Catalogs, Words
from bots.moderation_replies import reply_bands
from config import Settings
from core.detector import Detector
from core.moderation.store import SqlStore
from core.moderation.types import Action, ChatKey, ChatPolicy, FlagStatus, Mode
from tests.pseudo_catalogs import pseudo, pseudo_catalogs
from tests.sample_images import image_bytes
from tests.telegram.fake_telegram_mod import (
    ADMIN,
    GROUP,
    MEMBER,
    MODLOG,
    ModFake,
    buttons,
    isolated_mod_fake,
    texts,
)
from tests.telegram.telegram_harness import bot_settings, running_bot
from tests.telegram.telegram_payloads import ALICE, Json, user
from tests.telegram.test_why import Photos

pytestmark = pytest.mark.slow

KEY = ChatKey("telegram", str(GROUP))

fake = pytest.fixture(isolated_mod_fake)


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> Catalogs:
    return pseudo_catalogs(tmp_path_factory.mktemp("locales"))


def speaking(language: str, user_id: int = ALICE) -> dict[str, Any]:
    """The `from` of a message or press by a user whose app is in `language`."""
    return {"from": {**user(user_id), "language_code": language}}


def private_texts(fake: ModFake) -> list[str]:
    return texts(fake, ALICE)


async def verdict(detector: Detector, data: bytes, words: Words, settings: Settings) -> str:
    """The verdict reply a private chat gets for `data`, in `words`."""
    return replies.verdict_text(words, await detector.judge(data), settings.replies)


class TestPrivateChats:
    async def test_a_private_chat_speaks_its_users_language(
        self, fake: ModFake, settings: Settings, detector: Detector, catalogs: Catalogs
    ) -> None:
        """/help and a verdict in the user's language ("pt-br" is Brazilian Portuguese), the
        "Why?" button too; a user whose language has no catalog gets English."""
        portuguese = catalogs.words("pt_BR")
        async with running_bot(fake, bot_settings(settings, fake), detector, catalogs=catalogs):
            helped, judged = await fake.ask(
                fake.command("/help", **speaking("pt-br")),
                fake.photo(image_bytes(1), **speaking("pt-br")),
            )
            [english] = await fake.ask(fake.command("/help", **speaking("tlh")))
        assert helped == portuguese.gettext(replies.HELP) == pseudo("pt_BR", replies.HELP)
        assert judged == await verdict(detector, image_bytes(1), portuguese, settings)
        assert pseudo("pt_BR", WHY_BUTTON) in buttons(fake.posted_to(ALICE)[1])
        assert english == replies.HELP

    async def test_why_is_captioned_in_the_users_language(
        self, fake: ModFake, settings: Settings, detector: Detector, catalogs: Catalogs
    ) -> None:
        """The picture's caption, with the legend (the picture keeps its Latin-only English
        one), is in the presser's language in a private chat; "Why?" too."""
        photos = Photos(fake)
        async with running_bot(fake, bot_settings(settings, fake), detector, catalogs=catalogs):
            original = fake.photo(image_bytes(4), **speaking("ru"))
            [sent] = await fake.ask(original)
            reply = fake.posted_to(ALICE)[0]
            query = fake.button_press(
                {**reply, "reply_to_message": original}, WHY_DATA, user_id=ALICE
            )
            fake.push_update("callback_query", {**query, **speaking("ru")})
            [photo] = await fake.wait_for("sendPhoto")
        russian = catalogs.words("ru")
        assert sent.endswith(russian.gettext(replies.DISCLAIMER))
        assert list(buttons(reply)) == [pseudo("ru", WHY_BUTTON)]
        assert photo["caption"] == (
            f"{pseudo('ru', EXPLAIN_CAPTION)}\n{pseudo('ru', replies.EXPLAIN_LEGEND)}"
        )
        assert photos.sent

    async def test_a_german_private_chat_gets_german_help_and_verdict(
        self, fake: ModFake, settings: Settings, detector: Detector
    ) -> None:
        """With the real catalogs: German /help and a German verdict, not the English ones.

        Fails until the German catalog is translated.
        """
        german = Catalogs.load().words("de")
        async with running_bot(fake, bot_settings(settings, fake), detector):
            helped, judged = await fake.ask(
                fake.command("/help", **speaking("de")),
                fake.photo(image_bytes(2), **speaking("de")),
            )
        assert helped == german.gettext(replies.HELP)
        assert judged == await verdict(detector, image_bytes(2), german, settings)
        assert helped != replies.HELP
        assert judged != await verdict(
            detector, image_bytes(2), Catalogs.load().words(None), settings
        )


class TestGroupLanguage:
    async def test_a_group_set_to_french_answers_and_posts_in_french(
        self,
        fake: ModFake,
        settings: Settings,
        detector: Detector,
        store: SqlStore,
        catalogs: Catalogs,
    ) -> None:
        """`/settings language fr` is confirmed in French; the group's verdicts (whatever its
        poster's own language), its settings panel and its mod-log posts are French from then
        on, and so is the line a review adds to the post."""
        policy = ChatPolicy(
            mode=Mode.REPLY_ALL,
            threshold=0.0,
            modlog=str(MODLOG),
            actions=frozenset({Action.MODLOG}),
            explicit_mode=True,
        )
        await store.save_policy(KEY, policy)
        french = catalogs.words("fr")
        async with running_bot(
            fake, bot_settings(settings, fake), detector, store=store, catalogs=catalogs
        ):
            chosen, answered = await fake.ask(
                fake.group_command("/settings language fr"),
                fake.group_photo(image_bytes(3), **speaking("de", MEMBER)),
            )
            [post] = await fake.wait_posted(MODLOG)
            [panel] = await fake.ask(fake.group_command("/settings"))
            fake.press(post, "dg:no:1", user_id=ADMIN)
            await fake.wait_for("editMessageText")
        assert chosen == moderation_replies.language_set(french, "fr")
        assert (await store.policy(KEY, private=False)).language == "fr"
        saved = await store.policy(KEY, private=False)
        judgement = (await detector.judge(image_bytes(3))).with_policy(declared_ai_is_fake=True)
        assert answered == replies.answer_text(french, [judgement], reply_bands(saved))
        assert answered.startswith(pseudo("fr", "🤖"))
        assert post["text"].startswith(pseudo("fr", "🚩 Flag #1:"))
        assert set(buttons(post)) == {
            pseudo("fr", moderation_replies.CONFIRM_BUTTON),
            pseudo("fr", moderation_replies.DISMISS_BUTTON),
        }
        panel_message = fake.posted_to(GROUP)[-1]
        assert panel == moderation_replies.settings_text(french, saved)
        assert pseudo("fr", "Français") not in panel  # a language's own name is not translated
        assert f"• {pseudo('fr', 'reply-all')}" in buttons(panel_message)
        [edit] = fake.sent("editMessageText")
        reviewer = f"User{ADMIN} ({ADMIN})"
        assert edit["text"].endswith(
            moderation_replies.review_line(french, FlagStatus.DISMISSED, reviewer)
        )
        # The presser's app says no language: their private notice is English.
        english = catalogs.words(None)
        assert fake.callback_answers() == [
            moderation_replies.review_line(english, FlagStatus.DISMISSED, reviewer)
        ]

    async def test_a_press_is_answered_in_the_pressers_language(
        self,
        fake: ModFake,
        settings: Settings,
        detector: Detector,
        store: SqlStore,
        catalogs: Catalogs,
    ) -> None:
        """A member pressing a settings button is refused privately in their own language."""
        await store.save_policy(KEY, ChatPolicy(language="fr"))
        async with running_bot(
            fake, bot_settings(settings, fake), detector, store=store, catalogs=catalogs
        ):
            [panel] = await fake.ask(fake.group_command("/settings"))
            post = fake.posted_to(GROUP)[-1]
            pressed = fake.button_press(post, "dgs:mode:off", user_id=MEMBER)
            pressed["from"] = speaking("uk", MEMBER)["from"]
            fake.push_update("callback_query", pressed)
            await fake.wait_for("answerCallbackQuery")
        assert panel.startswith(pseudo("fr", "DeepGuard settings:"))
        ukrainian = catalogs.words("uk")
        assert fake.callback_answers() == [ukrainian.gettext(moderation_replies.ADMINS_ONLY)]

    async def test_an_unknown_code_gets_the_choices_and_a_member_is_refused(
        self,
        fake: ModFake,
        settings: Settings,
        detector: Detector,
        store: SqlStore,
        catalogs: Catalogs,
    ) -> None:
        """A code no catalog has, or none, lists the languages by code and name; a member may
        not choose; either way nothing is saved."""
        async with running_bot(
            fake, bot_settings(settings, fake), detector, store=store, catalogs=catalogs
        ):
            unknown, bare, refused = await fake.ask(
                fake.group_command("/settings language xx"),
                fake.group_command("/settings language"),
                fake.group_command("/settings language fr", user_id=MEMBER),
            )
        english = catalogs.words(None)
        assert unknown == moderation_replies.language_choices(english, "xx")
        assert bare == moderation_replies.language_choices(english)
        for code, name in LANGUAGES.items():
            assert f"{code.replace('_', '-')}: {name}" in unknown
        assert "“xx”" in unknown
        assert refused == moderation_replies.ADMINS_ONLY
        assert (await store.policy(KEY, private=False)).language is None

    async def test_language_tags_are_understood(
        self,
        fake: ModFake,
        settings: Settings,
        detector: Detector,
        store: SqlStore,
        catalogs: Catalogs,
    ) -> None:
        """ "pt-BR" (or "pt") chooses Brazilian Portuguese; the confirmation is in it."""
        async with running_bot(
            fake, bot_settings(settings, fake), detector, store=store, catalogs=catalogs
        ):
            [chosen] = await fake.ask(fake.group_command("/settings language pt-BR"))
        assert (await store.policy(KEY, private=False)).language == "pt_BR"
        assert chosen == moderation_replies.language_set(catalogs.words("pt_BR"), "pt_BR")


class TestCommandMenus:
    async def test_every_language_has_its_menus(
        self, fake: ModFake, settings: Settings, detector: Detector, catalogs: Catalogs
    ) -> None:
        """Two menus per catalog language, with the two-letter code Telegram takes ("pt" for
        Brazilian Portuguese) and translated descriptions; English without a code."""
        async with running_bot(fake, bot_settings(settings, fake), detector, catalogs=catalogs):
            await fake.wait_for("setMyCommands", 2 * len(LANGUAGES))
        menus: dict[str | None, list[Json]] = {}
        for call in fake.sent("setMyCommands"):
            menus.setdefault(call.get("language_code"), []).append(call)
        assert set(menus) == {None, "es", "pt", "fr", "de", "ru", "uk", "tr", "id"}
        for language, (everyone, admins) in menus.items():
            code = SOURCE if language is None else next(c for c in LANGUAGES if c[:2] == language)
            words = catalogs.words(code)
            assert "scope" not in everyone
            assert admins["scope"] == {"type": "all_chat_administrators"}
            assert [c["command"] for c in everyone["commands"]] == ["check", "help"]
            names = [c["command"] for c in admins["commands"]]
            assert names == ["check", "help", "settings", "stats", "forget"]
            described = {c["command"]: c["description"] for c in admins["commands"]}
            assert described["check"] == words.gettext(replies.COMMAND_DESCRIPTIONS["check"])
            assert described["forget"] == words.gettext(
                moderation_replies.ADMIN_COMMAND_DESCRIPTIONS["forget"]
            )
            if language is not None:
                assert described["help"].startswith(f"[{code}] ")

    async def test_the_real_menus_fit_telegrams_limits(
        self, fake: ModFake, settings: Settings, detector: Detector
    ) -> None:
        """With the real catalogs every description fits Telegram's 256 characters and no
        command is renamed."""
        async with running_bot(fake, bot_settings(settings, fake), detector):
            await fake.wait_for("setMyCommands", 2 * len(LANGUAGES))
        for call in fake.sent("setMyCommands"):
            for command in call["commands"]:
                assert command["command"] in {"check", "help", "settings", "stats", "forget"}
                assert 1 <= len(command["description"]) <= 256
