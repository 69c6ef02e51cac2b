"""Which language the pipeline writes in: a personal answer in its person's, everything else in
the chat's (its saved language, else the platform's default, else English).

The catalogs are pseudo-translated ("[fr] ..."), so the language of every word is visible.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bots import moderation_replies, replies
from bots.delivery import SeenMessages
from bots.i18n import Catalogs
from bots.moderation_replies import reply_bands
from bots.pipeline import Pipeline
from bots.throttle import Throttle
from config import ReplySettings, ThrottleSettings
from core.errors import ImageTooLarge
from core.moderation.types import Action, ChatPolicy, Mode
from tests.bots.pipeline_fakes import (
    CHAT,
    FakePort,
    PlatformRefused,
    ScriptedJudge,
    context,
    event,
    post,
)
from tests.core.memory_store import MemoryStore
from tests.fakes import png_bytes
from tests.pseudo_catalogs import pseudo, pseudo_catalogs

IMAGES = {"a": png_bytes(1), "b": png_bytes(2)}
BANDS = ReplySettings()


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> Catalogs:
    return pseudo_catalogs(tmp_path_factory.mktemp("locales"))


def moderated(**changes: object) -> ChatPolicy:
    """Flag-only, with a warning and a mod-log post on a flag (so no channel reply)."""
    policy = ChatPolicy(
        mode=Mode.FLAG_ONLY,
        threshold=0.7,
        modlog="modlog",
        actions=frozenset({Action.WARN, Action.MODLOG}),
        explicit_mode=True,
    )
    return replace(policy, **changes)  # type: ignore[arg-type]


async def run(
    catalogs: Catalogs,
    policy: ChatPolicy | None,
    *,
    private: bool = False,
    requested: bool = False,
    answer_language: str | None = None,
    chat_language: str | None = None,
    fake: FakePort | None = None,
    throttle: ThrottleSettings | None = None,
) -> tuple[FakePort, ScriptedJudge]:
    store, judge = MemoryStore(), ScriptedJudge({IMAGES["a"]: 0.9})
    if policy is not None:
        await store.save_policy(CHAT, policy)
    settings = throttle or ThrottleSettings()
    pipeline = Pipeline(
        judge,
        store,
        Throttle(settings),
        SeenMessages(),
        catalogs,
        bands=BANDS,
        burst=settings.burst,
    )
    who = context(private=private)
    fake = fake or FakePort({**IMAGES, "big": ImageTooLarge()})
    happened = replace(
        event(post("m1", "a", who=who), who=context(private=private, requested=requested)),
        answer_language=answer_language,
        chat_language=chat_language,
    )
    await pipeline.run(happened, fake)
    return fake, judge


def said(fake: FakePort, method: str) -> str:
    return next(
        call[1] if method == "reply" else call[2] for call in fake.calls if call[0] == method
    )


class TestLanguages:
    async def test_a_private_answer_is_in_its_persons_language(self, catalogs: Catalogs) -> None:
        """A private chat's verdict is written in the user's language, bands and all."""
        fake, judge = await run(catalogs, None, private=True, answer_language="de-DE")
        german = catalogs.words("de")
        verdict = await judge.judge(IMAGES["a"])
        assert fake.calls[-1] == ("reply", replies.verdict_text(german, verdict, BANDS), "")
        assert said(fake, "reply").startswith(pseudo("de", "🤖"))
        assert fake.languages == [("reply", "de")]

    async def test_a_group_speaks_its_saved_language(self, catalogs: Catalogs) -> None:
        """The saved language wins over the platform's default, for the warning, the mod-log
        post and a channel's reply alike."""
        policy = moderated(language="fr")
        fake, _ = await run(catalogs, policy, chat_language="pt-BR")
        french = catalogs.words("fr")
        assert said(fake, "warn") == moderation_replies.warning_text(french, 0.9)
        assert fake.languages == [("warn", "fr"), ("post_flag", "fr")]
        answering = replace(policy, mode=Mode.REPLY_ALL)
        fake, judge = await run(catalogs, answering, chat_language="pt-BR")
        verdict = await judge.judge(IMAGES["a"])
        assert said(fake, "reply") == replies.answer_text(french, [verdict], reply_bands(policy))
        assert fake.languages[-1] == ("reply", "fr")

    async def test_without_a_saved_language_the_platforms_default(
        self, catalogs: Catalogs
    ) -> None:
        """A chat with no saved language speaks the platform's default for it."""
        fake, _ = await run(catalogs, moderated(), chat_language="pt-BR")
        assert fake.languages == [("warn", "pt_BR"), ("post_flag", "pt_BR")]
        assert said(fake, "warn").startswith(pseudo("pt_BR", "⚠️"))

    async def test_english_when_nothing_is_known(self, catalogs: Catalogs) -> None:
        """No saved language and no default: English, exactly the source wording."""
        fake, _ = await run(catalogs, moderated())
        english = catalogs.words(None)
        assert said(fake, "warn") == moderation_replies.warning_text(english, 0.9)
        assert {language for _, language in fake.languages} == {"en"}

    async def test_a_personal_answer_in_a_group_leaves_the_flag_in_the_chats_language(
        self, catalogs: Catalogs
    ) -> None:
        """An interaction's answer is the asker's; the warning and the mod-log post stay the
        chat's, where everyone reads them."""
        fake, _ = await run(
            catalogs, moderated(language="fr"), requested=True, answer_language="uk"
        )
        assert fake.languages == [("warn", "fr"), ("post_flag", "fr"), ("reply", "uk")]

    async def test_a_refused_action_is_told_in_the_chats_language(
        self, catalogs: Catalogs
    ) -> None:
        """The moderators' notice about a missing right is in the chat's language."""
        fake = FakePort(dict(IMAGES))
        fake.fail("warn", PlatformRefused("403"))
        await run(catalogs, moderated(language="tr"), answer_language="de", fake=fake)
        told = next(call[1] for call in fake.calls if call[0] == "tell")
        turkish = catalogs.words("tr")
        assert told == moderation_replies.permission_missing(turkish, Action.WARN, "#general")

    async def test_the_throttle_notice_is_in_the_answers_language(
        self, catalogs: Catalogs
    ) -> None:
        """Someone over their rate is told so in their own language."""
        fake = FakePort(dict(IMAGES))
        store, judge = MemoryStore(), ScriptedJudge()
        limited = ThrottleSettings(burst=1, per_minute=1)
        throttle = Throttle(limited)
        throttle.admit("bob")  # the burst is spent
        pipeline = Pipeline(
            judge, store, throttle, SeenMessages(), catalogs, bands=BANDS, burst=limited.burst
        )
        who = context(private=True)
        await pipeline.run(replace(event(post("m2", "a", who=who)), answer_language="es"), fake)
        spanish = catalogs.words("es")
        assert fake.calls == [("reply", spanish.gettext(replies.THROTTLED), "")]

    async def test_a_refusal_is_one_translated_sentence(self, catalogs: Catalogs) -> None:
        """A core error's reason is translated, then its values filled in, inside the whole
        refusal sentence of its subject."""
        error = ImageTooLarge("the file is too large (limit {limit})", limit="25 MB")
        russian = catalogs.words("ru")
        reason = pseudo("ru", "the file is too large (limit 25 MB)")
        assert replies.error_line(russian, error) == pseudo(
            "ru", f"⚠️ I couldn't check this image: {reason}."
        )
        assert error.message == "the file is too large (limit 25 MB)"  # the API's, the CLI's
