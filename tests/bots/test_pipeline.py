"""The one chat pipeline, tested once with a fake port: order, policy, throttle, failures.

Both adapters run this sequence; their ports are tested through the real clients against the
fake servers (tests/discord, tests/telegram).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

import pytest

from bots import moderation_replies, replies
from bots.delivery import SeenMessages
from bots.i18n import Catalogs, english
from bots.moderation_replies import reply_bands
from bots.pipeline import Pipeline
from bots.throttle import Throttle
from config import ReplySettings, ThrottleSettings
from core.backlog import Backlog
from core.errors import CorruptImage, DeepGuardError, ImageTooLarge, Overloaded
from core.moderation.types import Action, ChatPolicy, FlagStatus, Mode
from tests.bots.pipeline_fakes import (
    CHAT,
    FakePort,
    PlatformFailed,
    PlatformGone,
    PlatformRefused,
    ScriptedJudge,
    context,
    event,
    post,
)
from tests.core.memory_store import MemoryStore, OutageStore
from tests.fakes import png_bytes

ENGLISH = english()

BANDS = ReplySettings()
A = Action
IMAGES = {name: png_bytes(seed) for seed, name in enumerate("abcdefgh")}
EVERY_ACTION = frozenset({A.REACT, A.WARN, A.MODLOG, A.TIMEOUT, A.DELETE})


def group(mode: Mode = Mode.FLAG_ONLY, **changes: object) -> ChatPolicy:
    """A moderated group: mod-log set, react and mod-log on a flag, flag at 70 %."""
    values: dict[str, object] = {
        "mode": mode,
        "threshold": 0.7,
        "modlog": "modlog",
        "actions": frozenset({A.REACT, A.MODLOG}),
        "explicit_mode": True,
    }
    return ChatPolicy(**(values | changes))  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """A pipeline on a memory store, a scripted judge and a throttle whose waits are recorded."""

    judge: ScriptedJudge = field(default_factory=ScriptedJudge)
    store: MemoryStore = field(default_factory=MemoryStore)
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    waits: list[float] = field(default_factory=list)
    backlog: Backlog | None = None

    def __post_init__(self) -> None:
        async def sleep(seconds: float) -> None:
            self.waits.append(seconds)

        limiter = Throttle(self.throttle, clock=Clock(), sleep=sleep)
        self.pipeline = Pipeline(
            self.judge,
            self.store,
            limiter,
            SeenMessages(),
            Catalogs.load(),
            bands=BANDS,
            burst=self.throttle.burst,
            backlog=self.backlog,
        )

    def script(self, **probabilities: float | Exception) -> None:
        self.judge.script.update({IMAGES[name]: p for name, p in probabilities.items()})

    async def policy(self, policy: ChatPolicy) -> None:
        await self.store.save_policy(CHAT, policy)


def port(**files: bytes | DeepGuardError) -> FakePort:
    return FakePort({**IMAGES, **files})


class StalledPort(FakePort):
    """Downloads that hold until released: the uploads stay in hand meanwhile."""

    def __init__(self, files: dict[str, bytes | DeepGuardError], stalls: int) -> None:
        super().__init__(files)
        self.release = asyncio.Event()
        self.stalled = asyncio.Event()  # set once `stalls` downloads are held
        self._stalls = stalls

    async def fetch(self, ref: str) -> bytes:
        self._stalls -= 1
        if self._stalls == 0:
            self.stalled.set()
        await self.release.wait()
        return await super().fetch(ref)


class TestBacklog:
    async def test_uploads_past_the_backlog_get_the_busy_answer_without_a_download(
        self,
    ) -> None:
        """With 2 uploads in hand (still downloading), a third event is told busy at once."""
        rig = Rig(backlog=Backlog(2))
        await rig.policy(group(Mode.REPLY_ALL))
        stalled = StalledPort({**IMAGES}, stalls=2)
        first = asyncio.create_task(rig.pipeline.run(event(post("m1", "a", "b")), stalled))
        await stalled.stalled.wait()
        busy = port()
        carol = context("carol")
        await rig.pipeline.run(event(post("m2", "c", who=carol)), busy)
        assert busy.calls == [("reply", replies.BUSY, "")]  # nothing fetched, nothing judged
        stalled.release.set()
        await first
        assert [call[0] for call in stalled.calls] == ["fetch", "fetch", "reply"]
        assert rig.judge.judged == [IMAGES["a"], IMAGES["b"]]
        after = port()
        await rig.pipeline.run(event(post("m3", "c", who=carol)), after)
        assert after.names() == ["fetch", "reply"]  # the places were freed


class TestOrder:
    async def test_flag_only_acts_in_order_and_says_nothing(self) -> None:
        """Fetch and judge, then every action in order (delete last); flag-only posts no reply."""
        rig = Rig()
        await rig.policy(group(actions=EVERY_ACTION, timeout_minutes=5))
        rig.script(a=0.9)
        fake = port()
        await rig.pipeline.run(event(), fake)
        warning = moderation_replies.warning_text(ENGLISH, 0.9)
        assert fake.calls == [
            ("fetch", "a"),
            ("react", "m1"),
            ("warn", "m1", warning, "1"),
            ("post_flag", "m1", "1", "modlog"),
            ("time_out", "m1", "5"),
            ("delete", "m1"),
        ]
        flag = await rig.store.get_flag(1)
        assert flag is not None
        assert flag.modlog_message == "post-1"
        assert (flag.flag.message, flag.flag.author, flag.flag.channel) == ("m1", "bob", "general")
        assert flag.status is FlagStatus.OPEN

    async def test_reply_all_acts_before_the_reply_which_carries_the_flag(self) -> None:
        """In reply-all the actions come first and the verdict reply names the flag."""
        rig = Rig()
        await rig.policy(group(Mode.REPLY_ALL))
        rig.script(a=0.9)
        fake = port()
        await rig.pipeline.run(event(), fake)
        verdict = replies.answer_text(
            ENGLISH, [await rig.judge.judge(IMAGES["a"])], reply_bands(group())
        )
        assert fake.calls == [
            ("fetch", "a"),
            ("react", "m1"),
            ("post_flag", "m1", "1", "modlog"),
            ("reply", verdict or "", "1"),
        ]

    async def test_the_worst_image_of_a_message_decides_its_flag(self) -> None:
        """Several images of one message: one flag, with the most suspicious image's score."""
        rig = Rig()
        await rig.policy(group())
        rig.script(a=0.2, b=0.95, c=0.4)
        await rig.pipeline.run(event(post("m1", "a", "b", "c")), port())
        flag = await rig.store.get_flag(1)
        assert flag is not None
        assert flag.flag.fake_probability == pytest.approx(0.95)
        assert await rig.store.get_flag(2) is None

    async def test_an_album_flags_each_message_and_replies_once(self) -> None:
        """Each message of an album is flagged on its own; the one reply comes last."""
        rig = Rig()
        await rig.policy(group(Mode.REPLY_ALL, actions=frozenset({A.REACT})))
        rig.script(a=0.9, b=0.1, c=0.8)
        fake = port()
        await rig.pipeline.run(event(post("m1", "a"), post("m2", "b"), post("m3", "c")), fake)
        assert fake.names() == ["fetch", "fetch", "fetch", "react", "react", "reply"]
        assert [call[1] for call in fake.calls if call[0] == "react"] == ["m1", "m3"]
        assert fake.calls[-1][2] == "1"  # the first flag
        assert rig.store.scanned[CHAT] == 3


class TestPolicy:
    async def test_mode_off_fetches_nothing_and_claims_nothing(self) -> None:
        """In a chat whose mode is off a posted image costs no download, no claim, no reply."""
        rig = Rig()
        await rig.policy(group(Mode.OFF))
        fake = port()
        await rig.pipeline.run(event(), fake)
        assert fake.calls == []
        assert rig.store.claimed == set()

    async def test_a_request_in_mode_off_is_answered(self) -> None:
        """An explicit request is answered even where the bot is off, and flags nothing."""
        rig = Rig()
        await rig.policy(group(Mode.OFF))
        rig.script(a=0.9)
        fake = port()
        await rig.pipeline.run(event(who=context(requested=True)), fake)
        assert fake.names() == ["fetch", "reply"]
        assert await rig.store.get_flag(1) is None

    async def test_flag_only_below_the_threshold_is_scanned_in_silence(self) -> None:
        """Below the threshold a flag-only chat counts the image and does nothing else."""
        rig = Rig()
        await rig.policy(group())
        rig.script(a=0.5)
        fake = port()
        await rig.pipeline.run(event(), fake)
        assert fake.calls == [("fetch", "a")]
        assert rig.store.scanned[CHAT] == 1

    async def test_an_exempt_author_in_flag_only_is_not_fetched(self) -> None:
        """An upload that could be neither answered nor flagged costs nothing."""
        rig = Rig()
        await rig.policy(group(exempt_users=frozenset({"bob"})))
        fake = port()
        await rig.pipeline.run(event(), fake)
        assert fake.calls == []

    async def test_reply_all_words_the_verdict_in_the_chats_bands(self) -> None:
        """A group's reply uses its own bands; a private chat the operator's."""
        rig = Rig()
        await rig.policy(group(Mode.REPLY_ALL, threshold=0.3, uncertain_from=0.1))
        rig.script(a=0.5, b=0.5)
        in_group, in_private = port(), port()
        await rig.pipeline.run(event(post("m1", "a")), in_group)
        alone = context(private=True)
        await rig.pipeline.run(event(post("m2", "b", who=alone)), in_private)
        assert replies.band(ENGLISH, 0.5, BANDS) == "uncertain"
        assert "Likely AI-generated" in in_group.calls[-1][1]
        assert "Uncertain" in in_private.calls[-1][1]
        assert "react" not in in_private.names()  # a private chat is never flagged

    async def test_a_request_flags_the_target_by_its_authors_context(self) -> None:
        """/check on someone's message answers the asker and flags the message by its author."""
        rig = Rig()
        await rig.policy(group(exempt_users=frozenset({"asker"})))
        rig.script(a=0.9)
        target = post("m1", "a", who=context("bob", requested=True))
        fake = port()
        await rig.pipeline.run(event(target, who=context("asker", requested=True)), fake)
        assert fake.names() == ["fetch", "react", "post_flag", "reply"]
        flag = await rig.store.get_flag(1)
        assert flag is not None
        assert flag.flag.author == "bob"

    async def test_a_request_with_no_image_says_so(self) -> None:
        """A request whose message has no image gets the no-image answer; a post gets nothing."""
        rig = Rig()
        asked, posted = port(), port()
        await rig.pipeline.run(event(post("m1"), who=context(requested=True)), asked)
        await rig.pipeline.run(event(post("m2")), posted)
        assert asked.calls == [("reply", replies.NO_IMAGE_FOUND, "")]
        assert posted.calls == []


class TestOnce:
    async def test_a_replayed_message_is_judged_once(self) -> None:
        """The same message again (a replay, a redelivery) is neither judged nor answered."""
        rig = Rig()
        first, again = port(), port()
        await rig.pipeline.run(event(), first)
        await rig.pipeline.run(event(), again)
        assert first.names() == ["fetch", "reply"]
        assert again.calls == []
        assert rig.judge.judged == [IMAGES["a"]]

    async def test_an_edit_judges_only_the_new_image_and_flags_once(self) -> None:
        """An image added by an edit is judged; the message already flagged is not flagged again."""
        rig = Rig()
        await rig.policy(group())
        rig.script(a=0.9, b=0.9)
        edited = port()
        await rig.pipeline.run(event(post("m1", "a")), port())
        await rig.pipeline.run(event(post("m1", "a", "b")), edited)
        assert edited.calls == [("fetch", "b")]
        assert await rig.store.get_flag(2) is None

    async def test_a_request_may_be_repeated(self) -> None:
        """Requests are not claimed here (the adapter claims the request): both are answered."""
        rig = Rig()
        asked = context(requested=True)
        fakes = [port(), port()]
        for fake in fakes:
            await rig.pipeline.run(event(who=asked), fake)
        assert [fake.names() for fake in fakes] == [["fetch", "reply"]] * 2


class TestThrottle:
    async def test_over_the_rate_a_chat_that_only_answers_drops_and_tells_once(self) -> None:
        """Where nothing could be flagged, images over the rate drop; the first drop is told."""
        rig = Rig(throttle=ThrottleSettings(burst=1, per_minute=0.01))
        await rig.policy(group(Mode.REPLY_ALL, actions=frozenset()))
        fakes = [port(), port(), port()]
        for n, fake in enumerate(fakes):
            await rig.pipeline.run(event(post(f"m{n}", "abc"[n])), fake)
        assert [fake.names() for fake in fakes] == [["fetch", "reply"], ["reply"], []]
        assert fakes[1].calls == [("reply", replies.THROTTLED, "")]
        assert rig.waits == []

    async def test_a_request_over_the_rate_is_always_told(self) -> None:
        """Someone who asked hears about the rate every time, never silence."""
        rig = Rig(throttle=ThrottleSettings(burst=1, per_minute=0.01))
        asked = context(requested=True)
        fakes = [port(), port(), port()]
        for n, fake in enumerate(fakes):
            await rig.pipeline.run(event(post(f"m{n}", "abc"[n]), who=asked), fake)
        assert [fake.calls[-1][1] for fake in fakes[1:]] == [replies.THROTTLED] * 2

    async def test_a_moderated_chat_defers_images_over_the_rate(self) -> None:
        """Where a fake would be flagged, an image over the rate waits for it and is judged."""
        rig = Rig(throttle=ThrottleSettings(burst=1, per_minute=60.0))
        await rig.policy(group())
        rig.script(a=0.9, b=0.9)
        second = port()
        await rig.pipeline.run(event(post("m1", "a")), port())
        await rig.pipeline.run(event(post("m2", "b")), second)
        assert rig.waits == [pytest.approx(1.0)]
        assert second.names() == ["fetch", "react", "post_flag"]

    async def test_past_the_waiting_limit_a_moderated_image_drops_in_silence(self) -> None:
        """When too many wait already the image drops; a flag-only chat is not told."""
        rig = Rig(throttle=ThrottleSettings(burst=1, per_minute=0.01, max_deferred=0))
        await rig.policy(group())
        dropped = port()
        await rig.pipeline.run(event(post("m1", "a")), port())
        await rig.pipeline.run(event(post("m2", "b")), dropped)
        assert dropped.calls == []
        assert rig.judge.judged == [IMAGES["a"]]

    async def test_a_message_costs_a_token_per_image_up_to_a_burst(self) -> None:
        """Images of one message are paid for together, never more than a burst at once."""
        rig = Rig(throttle=ThrottleSettings(burst=2, per_minute=0.01))
        await rig.policy(group(Mode.REPLY_ALL, actions=frozenset()))
        big, next_one = port(), port()
        await rig.pipeline.run(event(post("m1", "a", "b", "c")), big)
        await rig.pipeline.run(event(post("m2", "d")), next_one)
        assert big.names() == ["fetch", "fetch", "fetch", "reply"]
        assert next_one.calls == [("reply", replies.THROTTLED, "")]


class TestJudging:
    async def test_expected_errors_become_polite_lines(self) -> None:
        """A refused fetch and a broken image each get their reason, next to a verdict."""
        rig = Rig()
        rig.script(b=CorruptImage())
        fake = port(c=ImageTooLarge())
        await rig.pipeline.run(event(post("m1", "a", "b", "c")), fake)
        verdict = await rig.judge.judge(IMAGES["a"])
        expected = replies.outcomes_text(
            ENGLISH, [verdict, CorruptImage(), ImageTooLarge()], BANDS
        )
        assert fake.calls[-1] == ("reply", expected, "")

    async def test_busy_when_the_queue_is_full(self) -> None:
        """An overloaded core gets the busy answer."""
        rig = Rig()
        rig.script(a=Overloaded())
        fake = port()
        await rig.pipeline.run(event(), fake)
        assert fake.calls[-1] == ("reply", replies.BUSY, "")

    async def test_unlabelled_files_that_are_not_images_drop_out(self) -> None:
        """A file judged only by its bytes is skipped quietly when it is not an image."""
        rig = Rig()
        fake = port(text=b"plain text", gone=ImageTooLarge())
        unlabelled = post("m1", "text", "gone", "a", sniff=True)
        await rig.pipeline.run(event(unlabelled), fake)
        assert rig.judge.judged == [IMAGES["a"]]
        verdict = await rig.judge.judge(IMAGES["a"])
        assert fake.calls[-1] == ("reply", replies.outcomes_text(ENGLISH, [verdict], BANDS), "")

    async def test_a_labelled_file_that_is_not_an_image_is_refused(self) -> None:
        """A file that claims to be an image gets the core's refusal."""
        rig = Rig()
        rig.judge.script[b"\x89PNG\r\n\x1a\nbad"] = CorruptImage()
        fake = port(broken=b"\x89PNG\r\n\x1a\nbad")
        await rig.pipeline.run(event(post("m1", "broken")), fake)
        assert fake.calls[-1] == ("reply", replies.error_text(ENGLISH, CorruptImage()), "")

    async def test_a_bug_surfaces_as_itself_and_nothing_is_done(self) -> None:
        """An unexpected error is raised unwrapped (logged with its own traceback); no action."""
        rig = Rig()
        await rig.policy(group(Mode.REPLY_ALL))
        rig.script(a=0.9, b=KeyError("a bug while judging"))
        fake = port()
        with pytest.raises(KeyError, match="a bug while judging"):
            await rig.pipeline.run(event(post("m1", "a", "b")), fake)
        assert set(fake.names()) == {"fetch"}


class TestFailures:
    async def test_a_failing_reply_after_a_flag_still_runs_the_actions(self) -> None:
        """The reply comes last: when it fails, every action has been taken already.

        (A port logs its platform's errors on replies; what still escapes is a bug, raised.)
        """
        rig = Rig()
        await rig.policy(group(Mode.REPLY_ALL, actions=frozenset({A.REACT, A.MODLOG, A.DELETE})))
        rig.script(a=0.9)
        fake = port()
        fake.fail("reply", RuntimeError("a bug while replying"))
        with pytest.raises(RuntimeError, match="a bug while replying"):
            await rig.pipeline.run(event(), fake)
        assert fake.names() == ["fetch", "react", "post_flag", "delete", "reply"]
        flag = await rig.store.get_flag(1)
        assert flag is not None
        assert flag.modlog_message == "post-1"

    async def test_a_failing_action_stops_neither_the_others_nor_the_reply(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A platform error, a vanished message and a bug in actions: the rest still happen."""
        caplog.set_level(logging.INFO, logger="bots.actions")
        rig = Rig()
        actions = frozenset({A.REACT, A.MODLOG, A.TIMEOUT, A.DELETE})
        await rig.policy(group(Mode.REPLY_ALL, actions=actions))
        rig.script(a=0.9)
        fake = port()
        fake.fail("react", PlatformFailed("HTTP 500"))
        fake.fail("post_flag", RuntimeError("a bug in the mod-log post"))
        fake.fail("time_out", PlatformGone("the member left"))
        await rig.pipeline.run(event(), fake)
        assert fake.names() == ["fetch", "react", "post_flag", "time_out", "delete", "reply"]
        bug = [r for r in caplog.records if r.exc_info and "unexpectedly" in r.getMessage()]
        assert len(bug) == 1
        assert [r.levelname for r in caplog.records if "found nothing" in r.getMessage()] == [
            "INFO"
        ]
        policy = await rig.store.policy(CHAT, private=False)
        assert policy.disabled == frozenset()  # nothing was refused

    async def test_a_refused_action_is_switched_off_there_and_told_once(self) -> None:
        """Two refusals of the reaction at once: switched off in that channel, told once."""
        rig = Rig()
        await rig.policy(group())
        rig.script(a=0.9, b=0.9, c=0.9)
        fakes = [port(), port()]
        for fake in fakes:
            fake.fail("react", PlatformRefused("HTTP 403"))
        await asyncio.gather(  # both decided before either refusal is saved
            rig.pipeline.run(event(post("m1", "a")), fakes[0]),
            rig.pipeline.run(event(post("m2", "b")), fakes[1]),
        )
        told = moderation_replies.permission_missing(ENGLISH, A.REACT, "#general")
        tells = [call for fake in fakes for call in fake.calls if call[0] == "tell"]
        assert tells == [("tell", told, "modlog")]
        assert [fake.names().count("react") for fake in fakes] == [1, 1]
        policy = await rig.store.policy(CHAT, private=False)
        assert policy.disabled == frozenset({("general", A.REACT)})
        later = port()
        await rig.pipeline.run(event(post("m3", "c")), later)
        assert later.names() == ["fetch", "post_flag"]  # the reaction is off in this channel

    async def test_a_refused_mod_log_is_switched_off_and_told_elsewhere(self) -> None:
        """When the mod-log itself refuses, the notice goes where the platform reaches moderators."""
        rig = Rig()
        await rig.policy(group())
        rig.script(a=0.9)
        fake = port()
        fake.fail("post_flag", PlatformRefused("HTTP 403"))
        await rig.pipeline.run(event(), fake)
        told = moderation_replies.permission_missing(ENGLISH, A.MODLOG, "#modlog")
        assert fake.calls[-1] == ("tell", told, "(owner)")
        policy = await rig.store.policy(CHAT, private=False)
        assert policy.disabled == frozenset({("modlog", A.MODLOG)})

    async def test_an_action_refused_in_one_channel_still_runs_in_another(self) -> None:
        """An action refused in one channel still runs in another channel of the same chat."""
        rig = Rig()
        await rig.policy(replace(group(), disabled=frozenset({("general", A.REACT)})))
        rig.script(a=0.9)
        elsewhere = port()
        await rig.pipeline.run(event(post("m1", "a", who=context(channel="art"))), elsewhere)
        assert elsewhere.names() == ["fetch", "react", "post_flag"]


class TestDatabaseOutage:
    async def test_while_the_database_is_down_groups_get_silence_and_the_rest_answers(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Down: a group's post costs nothing and gets nothing (its policy is unknown); a
        private chat and an explicit request are answered, never flagged; one log line. Back:
        the group is served by its own policy again, without a restart."""
        store = OutageStore()
        rig = Rig(store=store)
        await rig.policy(group(Mode.REPLY_ALL))
        rig.script(a=0.9, b=0.9, c=0.9, d=0.9, e=0.9)
        store.down = True
        in_group, again, in_private, asked = port(), port(), port(), port()
        await rig.pipeline.run(event(post("m1", "a")), in_group)
        await rig.pipeline.run(event(post("m2", "b")), again)
        await rig.pipeline.run(event(post("m3", "c", who=context(private=True))), in_private)
        await rig.pipeline.run(event(post("m4", "d"), who=context(requested=True)), asked)
        assert (in_group.calls, again.calls) == ([], [])
        verdict = replies.verdict_text(ENGLISH, await rig.judge.judge(IMAGES["c"]), BANDS)
        assert in_private.calls == [("fetch", "c"), ("reply", verdict, "")]
        assert asked.names() == ["fetch", "reply"]  # answered, and nothing flagged
        outage = [r for r in caplog.records if "database" in r.getMessage()]
        assert [r.levelname for r in outage] == ["ERROR"]
        assert outage[0].exc_info is None  # a fact to act on, not a bug

        store.down = False
        back = port()
        await rig.pipeline.run(event(post("m5", "e")), back)
        assert back.names() == ["fetch", "react", "post_flag", "reply"]
        assert [r.levelname for r in caplog.records if "database" in r.getMessage()] == [
            "ERROR",
            "WARNING",
        ]
        assert rig.store.flags.keys() == {1}  # the outage's images were never flagged

    async def test_the_database_going_away_mid_event_costs_the_flag_not_the_reply(self) -> None:
        """The policy was read, then the database went: the verdict is still posted, the
        actions of a flag that could not be recorded are not taken."""
        store = OutageStore()
        rig = Rig(store=store)
        await rig.policy(group(Mode.REPLY_ALL))
        rig.script(a=0.9)
        fake = OutageOnFetch(store)
        await rig.pipeline.run(event(), fake)
        verdict = replies.answer_text(
            ENGLISH, [await rig.judge.judge(IMAGES["a"])], reply_bands(group())
        )
        assert fake.calls == [("fetch", "a"), ("reply", verdict or "", "")]
        assert rig.store.flags == {}


class OutageOnFetch(FakePort):
    """A port during whose download the database goes away."""

    def __init__(self, store: OutageStore) -> None:
        super().__init__(dict(IMAGES))
        self.store = store

    async def fetch(self, ref: str) -> bytes:
        self.store.down = True
        return await super().fetch(ref)
