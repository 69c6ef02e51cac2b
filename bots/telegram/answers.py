"""Judge the images of a message or album, let moderation act, and post one reply.

Every image is judged even when one fails, so none is left running unawaited; the chat's
policy then decides per image whether it is flagged, and once whether the verdict is posted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from telegram import Bot, Message, ReplyParameters

from bots import replies
from bots.replies import reply_bands
from bots.telegram.media import Media, fetch
from bots.telegram.mod import Judged, Moderator
from bots.telegram.mod_chat import is_private
from config import ReplySettings, TelegramSettings
from core.detector import Judge
from core.errors import DeepGuardError, Overloaded, UnsupportedImage
from core.moderation.types import ChatPolicy
from core.result import Judgement

Pending = tuple[Message, Media]


class Answers:
    """The detector, moderation and reply wording behind every image handler."""

    def __init__(
        self, judge: Judge, moderator: Moderator, settings: TelegramSettings, bands: ReplySettings
    ) -> None:
        self._judge = judge
        self._mod = moderator
        self._max_bytes = settings.max_file_bytes
        self._timeout_s = settings.download_timeout_s
        self._bands = bands

    async def answer(
        self,
        bot: Bot,
        message: Message,
        pending: Sequence[Pending],
        policy: ChatPolicy,
        *,
        requested: bool = False,
    ) -> None:
        """Judge each image, let moderation act on each, post one reply if the chat wants it."""
        # Every image finishes before a bug in one is raised, so none is left running unawaited.
        found = await asyncio.gather(
            *(self._outcome(bot, media) for _, media in pending), return_exceptions=True
        )
        outcomes: list[replies.Outcome] = []
        judged: list[Judged] = []
        for (source, _), outcome in zip(pending, found, strict=True):
            if isinstance(outcome, Judgement):
                judged.append((source, outcome))
            if isinstance(outcome, Judgement | DeepGuardError):
                outcomes.append(outcome)
            elif outcome is not None:
                raise outcome
        await self._mod.review(bot, policy, judged, requested=requested)
        if not self._mod.answers(policy, message, requested=requested):
            return
        if len(outcomes) == 1 and isinstance(outcomes[0], Overloaded):
            await reply(bot, message, replies.BUSY)
        elif outcomes:
            await reply(
                bot, message, replies.outcomes_text(outcomes, self._bands_in(message, policy))
            )
        elif requested:
            await reply(bot, message, replies.NO_IMAGE_FOUND)

    def _bands_in(self, message: Message, policy: ChatPolicy) -> ReplySettings:
        """A group's own bands; a private chat has no moderators, so the operator's."""
        return self._bands if is_private(message) else reply_bands(policy)

    async def _outcome(self, bot: Bot, media: Media) -> replies.Outcome | None:
        """The judgement or the polite reason; None for a file that only pretended."""
        try:
            data = await fetch(bot, media, self._max_bytes, self._timeout_s)
            return await self._judge.judge(data)
        except UnsupportedImage as exc:
            return exc if media.claimed else None
        except DeepGuardError as exc:
            return exc


async def reply(bot: Bot, message: Message, text: str) -> None:
    """Quote `message`, in its forum topic when it has one."""
    await bot.send_message(
        chat_id=message.chat_id,
        text=text,
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        message_thread_id=message.message_thread_id if message.is_topic_message else None,
    )
