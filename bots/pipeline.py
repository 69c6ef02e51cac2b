"""The one chat pipeline both adapters run, from an upload in a chat to the reply about it.

    collect -> scan? -> throttle -> judge -> decide -> act -> reply

An adapter collects the images of a platform event into an `Event` and hands it in with its
`Port`, the small set of platform calls the sequence needs (fetch bytes, reply, react, warn,
delete, time out, post to the mod-log, tell the moderators). Everything else happens here, in
this order, the same on every platform:

- scan?: the chat's policy says whether the upload is judged at all (`scans`) and answered
  (`answers`); images of a posted message are claimed once, so a replayed or redelivered
  message, or an edit, is never judged twice. A message older than the store's retention (by
  the platform's timestamp) is never scanned again: its claims may have been purged.
- throttle: the sender spends a token per image. Where every image must be scanned
  (`moderates`) an image over the rate waits for it; elsewhere it is dropped, the sender told
  once per burst (always, when they asked).
- judge: every image of the event at once, so they share a model batch; an expected failure
  (`core.errors`) becomes a polite line of the reply, an unlabelled file that is neither an
  image nor a clip drops out, and a bug is raised as itself. Where moderators count on
  scanning (`moderates`) every image of a message is judged; elsewhere an adapter may cap them
  per message, and a file that is no image takes no place under the cap. A clip (an animation
  or a video) is one upload: one judgement, flagged and counted as one, by its probability.
- decide and act: each verdict under the chat's `declared_ai_is_fake` (an image declaring AI
  itself is FAKE, reason DECLARED); per message, its worst (a declared one first) against the
  policy; a flag is recorded, then its actions are taken one by one (`bots.actions`). An action
  the platform refuses (e.g. HTTP 403) is switched off where it was refused and the moderators
  are told once; any other failure is logged. One failing action never stops the others, nor
  the reply.
- reply: last, so a reply that fails never cancels a flag's actions.

Words: an answer meant for one person (`Event.answer_language`: a private chat, an interaction)
is written in their language; everything else (a channel's reply, warnings, mod-log posts,
notices to moderators) in the chat's (`ChatPolicy.language`, else `Event.chat_language`), and
English when neither is known.

While the moderation database cannot be reached (`StoreUnavailable`), a group's upload gets
silence (its policy is unknown), a private chat or an explicit request is still answered (never
flagged), nothing is recorded, and the outage is logged once; the next event that reaches the
database ends it, so service resumes by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bots import replies
from bots.actions import Actions
from bots.delivery import SeenMessages
from bots.i18n import Catalogs, Words
from bots.moderation_replies import reply_bands
from bots.outage import Outage
from bots.port import Event, Image, M, Port, Post, R
from bots.replies import Outcome
from bots.throttle import Admission, Throttle
from config import QueueSettings, ReplySettings
from core.backlog import Backlog
from core.detector import Judge
from core.errors import DeepGuardError, Overloaded, UnsupportedImage
from core.images import sniff_format
from core.kinds import HEAD_BYTES, video_demuxer
from core.moderation.policy import (
    answers,
    decide,
    moderates,
    scans,
)
from core.moderation.types import (
    ChatKey,
    ChatPolicy,
    Decision,
    Flag,
    Mode,
    ModerationStore,
    NewFlag,
)
from core.result import Judgement, VerdictReason

log = logging.getLogger(__name__)


class Pipeline:
    """Runs events through the sequence; built once per adapter and shared by its handlers."""

    def __init__(
        self,
        judge: Judge,
        store: ModerationStore,
        throttle: Throttle,
        seen: SeenMessages,
        catalogs: Catalogs,
        *,
        bands: ReplySettings,
        burst: int,
        max_images: int | None = None,
        retention: timedelta | None = None,
        backlog: Backlog | None = None,
        declared_ai_is_fake: bool = True,
    ) -> None:
        """`catalogs` hold every language's words (`chat_words`, `answer_words` pick them);
        `max_images` caps the images judged per message where nothing could be flagged;
        messages older than `retention` (the store's) are never flagged again; `backlog`
        bounds the uploads in hand (downloading, decoding, queued) across every event;
        `bands` and `declared_ai_is_fake` are the operator's, for a private chat during an
        outage."""
        self._judge = judge
        self._store = store
        self._throttle = throttle
        self._seen = seen
        self._catalogs = catalogs
        self._bands = bands  # the operator's, for private chats
        self._declared_ai_is_fake = declared_ai_is_fake
        self._burst = burst
        self._max_images = max_images
        self._retention = retention
        self._backlog = backlog or Backlog(QueueSettings().max_admitted)
        self.outage = Outage(store)  # shared with the adapter's own database calls
        self._actions = Actions(store, self.outage)

    async def run(self, event: Event[M, R], port: Port[M, R]) -> None:
        """Take one event through the whole sequence."""
        posts = [self._aged(post, event.requested) for post in event.posts]
        if not event.requested and not any(post.images for post in posts):
            return  # most messages: no database round trip
        policy = await self._policy(event)
        if policy is None or not scans(policy, event.context):
            return
        if not event.requested:  # a request is claimed by the adapter, and may be repeated
            posts = [await self._fresh(event.chat, post) for post in posts]
        count = sum(_at_most(len(post.images), self._cap(policy, post)) for post in posts)
        answered = answers(policy, event.context)
        chat_words = self.chat_words(policy, event)
        answer_words = self.answer_words(policy, event)
        if count and not await self._admitted(port, event, policy, count, answered, answer_words):
            return
        found = await self._outcomes(port, posts, policy) if count else [[] for _ in posts]
        found = [[_under(policy, outcome) for outcome in outcomes] for outcomes in found]
        judged = sum(isinstance(outcome, Judgement) for outcomes in found for outcome in outcomes)
        if judged:
            await self.outage.attempt(self._store.count_scanned(event.chat, judged), None)
        flags = [
            flag
            for post, outcomes in zip(posts, found, strict=True)
            if (flag := await self._conclude(port, event.chat, policy, post, outcomes, chat_words))
        ]
        if answered:
            await self._answer(
                port,
                event,
                policy,
                [o for outcomes in found for o in outcomes],
                flags,
                answer_words,
            )

    def chat_words(self, policy: ChatPolicy, event: Event[M, R]) -> Words:
        """The chat's language: its saved choice, else the platform's default, else English."""
        return self._catalogs.words(policy.language or event.chat_language)

    def answer_words(self, policy: ChatPolicy, event: Event[M, R]) -> Words:
        """The answer's language: its person's when it is meant for one, else the chat's."""
        if event.answer_language is not None:
            return self._catalogs.words(event.answer_language)
        return self.chat_words(policy, event)

    def _aged(self, post: Post[M, R], requested: bool) -> Post[M, R]:
        """A message older than the retention is never flagged again: its record may be purged.

        Edited or pinned, it is not scanned at all; when someone asks, it is only answered.
        """
        if self._retention is None or post.sent is None:
            return post
        if post.sent >= datetime.now(UTC) - self._retention:
            return post
        return replace(post, images=post.images if requested else [], message=None)

    async def first_time(self, chat: ChatKey, key: str) -> bool:
        """Whether `key` (a message's image, a request) is new in `chat`: in memory first
        (cheap, for replays), then in the store (restarts, other processes). During an outage
        memory alone decides."""
        if not await self._seen.claim(f"{chat.platform}:{chat.chat}:{key}"):
            return False
        return await self.outage.attempt(self._store.claim(chat, key), True)

    async def _policy(self, event: Event[M, R]) -> ChatPolicy | None:
        """The chat's policy; during an outage one that answers and never flags, or None
        (silence) for a group's upload nobody asked about."""
        policy = await self.outage.attempt(
            self._store.policy(event.chat, private=event.context.private), None
        )
        if policy is not None or not (event.context.private or event.requested):
            return policy
        bands = self._bands
        return ChatPolicy(
            mode=Mode.OFF,
            threshold=bands.likely_fake_from,
            uncertain_from=bands.likely_real_below,
            actions=frozenset(),
            declared_ai_is_fake=self._declared_ai_is_fake,
        )

    async def _fresh(self, chat: ChatKey, post: Post[M, R]) -> Post[M, R]:
        """The post with only the images never handled before."""
        images = [
            image for image in post.images if await self.first_time(chat, f"{post.id}:{image.key}")
        ]
        return replace(post, images=images)

    async def _admitted(
        self,
        port: Port[M, R],
        event: Event[M, R],
        policy: ChatPolicy,
        count: int,
        answered: bool,
        words: Words,
    ) -> bool:
        """Spend the sender's tokens; an image over the rate waits where it must be scanned."""
        cost = min(count, self._burst)  # more than a burst could never be paid for
        if not event.requested and moderates(policy, event.context):
            admission = await self._throttle.wait(event.sender, cost)
        else:
            admission = self._throttle.admit(event.sender, cost)
        if admission is Admission.ALLOW:
            return True
        if answered and (admission is Admission.REFUSE_AND_NOTIFY or event.requested):
            await port.reply(words.gettext(replies.THROTTLED), None, words)
        return False

    async def _outcomes(
        self, port: Port[M, R], posts: Sequence[Post[M, R]], policy: ChatPolicy
    ) -> list[list[Outcome]]:
        """Judge the posts' images at once, so they share a batch; per post, in order."""
        try:
            async with asyncio.TaskGroup() as group:  # a bug in one cancels the rest
                tasks = [
                    group.create_task(self._judged(port, post.images, self._cap(policy, post)))
                    for post in posts
                ]
        except BaseExceptionGroup as bugs:
            raise _first(bugs) from None  # log the bug itself, not its wrappers
        return [task.result() for task in tasks]

    def _cap(self, policy: ChatPolicy, post: Post[M, R]) -> int | None:
        """How many of a post's images are judged: all where moderators count on scanning."""
        return None if moderates(policy, post.context) else self._max_images

    async def _judged(
        self, port: Port[M, R], images: Sequence[Image[R]], cap: int | None
    ) -> list[Outcome]:
        """The outcomes of the first `cap` images; a file that is no image takes no place."""
        found: list[Outcome] = []
        waiting = list(images)
        while waiting and (cap is None or len(found) < cap):
            room = len(waiting) if cap is None else cap - len(found)
            wave, waiting = waiting[:room], waiting[room:]
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._outcome(port, image)) for image in wave]
            found += [outcome for task in tasks if (outcome := task.result()) is not None]
        return found

    async def _outcome(self, port: Port[M, R], image: Image[R]) -> Outcome | None:
        """The judgement or the polite reason; None for a file that only might have been one."""
        try:
            with self._backlog.admit():
                return await self._fetched_and_judged(port, image)
        except Overloaded as error:
            return error

    async def _fetched_and_judged(self, port: Port[M, R], image: Image[R]) -> Outcome | None:
        try:
            data = await port.fetch(image.ref)
        except DeepGuardError as error:
            return None if image.sniff else error
        if image.sniff and not _readable(data):
            return None
        try:
            return await self._judge.judge(data)
        except UnsupportedImage as error:
            return None if image.sniff else error
        except DeepGuardError as error:
            return error

    async def _conclude(
        self,
        port: Port[M, R],
        chat: ChatKey,
        policy: ChatPolicy,
        post: Post[M, R],
        outcomes: Sequence[Outcome],
        words: Words,
    ) -> Flag | None:
        """Decide on the post's worst image; a new flag is recorded and its actions taken."""
        judgements = [outcome for outcome in outcomes if isinstance(outcome, Judgement)]
        if post.message is None or not judgements:
            return None
        worst = max(
            judgements, key=lambda judgement: (_declared(judgement), judgement.fake_probability)
        )
        decision = decide(policy, worst.fake_probability, post.context, declared=_declared(worst))
        log.debug("%s/%s message %s: %s", chat.platform, chat.chat, post.id, decision.reason)
        if not decision.flag:
            return None
        flag = await self.outage.attempt(self._flag(chat, post, worst, decision, words), None)
        if flag is not None:
            await self._actions.take(port, chat, post, post.message, flag, policy, words)
        return flag

    async def _flag(
        self, chat: ChatKey, post: Post[M, R], worst: Judgement, decision: Decision, words: Words
    ) -> Flag | None:
        """Record the flag (the image's SHA-256 only); None if the message has one already.

        Its declaration is kept as words, in the chat's language its warning and post use.
        """
        if not await self._store.claim(chat, f"flag:{post.id}"):
            return None
        flag = await self._store.add_flag(
            NewFlag(
                chat=chat,
                channel=post.channel,
                message=post.id,
                author=post.context.user,
                sha256=worst.sha256,
                fake_probability=worst.fake_probability,
                actions=decision.actions,
                declared=replies.provenance_line(words, worst) if _declared(worst) else None,
                media=worst.media,
            )
        )
        log.info("flag %d: message %s (%s)", flag.id, post.id, decision.reason)
        return flag

    async def _answer(
        self,
        port: Port[M, R],
        event: Event[M, R],
        policy: ChatPolicy,
        outcomes: Sequence[Outcome],
        flags: Sequence[Flag],
        words: Words,
    ) -> None:
        """The one reply about the event, in the chat's bands (a private chat has none)."""
        bands = self._bands if event.context.private else reply_bands(policy)
        text = replies.answer_text(words, outcomes, bands)
        if text is None and event.requested:
            text = words.gettext(replies.NO_IMAGE_FOUND)
        if text is not None:
            await port.reply(text, flags[0] if flags else None, words)


def _under(policy: ChatPolicy, outcome: Outcome) -> Outcome:
    """A judgement decided under the chat's own `declared_ai_is_fake` choice."""
    if isinstance(outcome, Judgement):
        return outcome.with_policy(declared_ai_is_fake=policy.declared_ai_is_fake)
    return outcome


def _readable(data: bytes) -> bool:
    """Whether an unlabelled file's bytes are an image, an animation or a video."""
    return sniff_format(data) is not None or video_demuxer(data[:HEAD_BYTES]) is not None


def _declared(judgement: Judgement) -> bool:
    """FAKE because the image declares AI itself, not for the model's probability."""
    return judgement.verdict_reason is VerdictReason.DECLARED


def _at_most(count: int, cap: int | None) -> int:
    return count if cap is None else min(count, cap)


def _first(bugs: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception inside (nested) exception groups."""
    first = bugs.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
