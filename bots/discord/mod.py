"""Per-server moderation of posted images: judge, let the server's policy decide, act.

Each image of a message is claimed in the store before it is judged, so a message replayed by
the gateway or seen again after a restart is never handled twice. The policy comes from the
store on every message; moderators change it with `/deepguard settings`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import discord

from bots.discord.answers import Assessment, Checker
from bots.discord.inputs import ImageSource
from bots.discord.mod_actions import FlagActions, buttons
from bots.discord.mod_chat import as_member, chat_of, may_matter, upload_context
from bots.replies import reply_bands
from config import ReplySettings
from core.moderation.policy import decide, moderates
from core.moderation.types import (
    ChatKey,
    ChatPolicy,
    Decision,
    Flag,
    ModerationStore,
    NewFlag,
    UploadContext,
)
from core.result import Judgement

__all__ = ["Moderator", "Reply", "chat_of", "may_matter", "upload_context"]

log = logging.getLogger(__name__)

Reply = Callable[[discord.Message, str, discord.ui.View | None], Awaitable[None]]


class Moderator:
    """Turns one member message with images into the reply and flag its server wants."""

    def __init__(
        self,
        store: ModerationStore,
        checker: Checker,
        actions: FlagActions,
        reply: Reply,
    ) -> None:
        self._store = store
        self._checker = checker
        self._actions = actions
        self._reply = reply

    async def handle(self, message: discord.Message, sources: Sequence[ImageSource]) -> None:
        if not sources:
            return  # most messages: no database round trip
        chat, private = chat_of(message)
        policy = await self._store.policy(chat, private=private)
        context = upload_context(message, private=private)
        if not may_matter(policy, context):
            return
        fresh = [s for s in sources if await self._store.claim(chat, f"{message.id}:{s.key}")]
        bands = None if private else reply_bands(policy)  # a DM has the operator's bands
        assessment = await self._checker.assess(
            message.author.id,
            fresh,
            must_answer=False,
            bands=bands,
            defer=moderates(policy, context),
        )
        if assessment.judgements:
            await self._store.count_scanned(chat, len(assessment.judgements))
        await self._conclude(message, chat, policy, context, assessment)

    async def _conclude(
        self,
        message: discord.Message,
        chat: ChatKey,
        policy: ChatPolicy,
        context: UploadContext,
        assessment: Assessment,
    ) -> None:
        """Answer and flag as the server's policy says for the message's worst image."""
        judgements = assessment.judgements
        worst = max(judgements, key=lambda j: j.fake_probability, default=None)
        decision = decide(policy, worst.fake_probability if worst else 0.0, context)
        flag = None
        if decision.flag and worst is not None:
            flag = await self._flag(message, chat, context, worst, decision)
        if decision.answer and assessment.text is not None:
            view = buttons(flag.id, "report") if flag is not None else None
            await self._reply(message, assessment.text, view)
        if flag is not None:
            await self._actions.take(message, flag, policy, context.channel)

    async def bands_of(self, interaction: discord.Interaction) -> ReplySettings | None:
        """A server's own bands for `/check` and the menu there; None (the operator's) in DMs."""
        if interaction.guild_id is None:
            return None
        chat = ChatKey("discord", str(interaction.guild_id))
        return reply_bands(await self._store.policy(chat, private=False))

    async def requested(self, message: discord.Message, judgements: Sequence[Judgement]) -> None:
        """Someone checked a server message from its menu: flag it if the server would.

        The asker got the private answer already; the flag follows the server's policy, so an
        exempt author or a server in mode `off` is not flagged this way either.
        """
        if message.guild is None or not judgements:
            return
        chat, _ = chat_of(message)
        policy = await self._store.policy(chat, private=False)
        author = await as_member(message.guild, message.author)
        context = upload_context(message, private=False, author=author, requested=True)
        worst = max(judgements, key=lambda j: j.fake_probability)
        decision = decide(policy, worst.fake_probability, context)
        if decision.flag:
            flag = await self._flag(message, chat, context, worst, decision)
            if flag is not None:
                await self._actions.take(message, flag, policy, context.channel)

    async def _flag(
        self,
        message: discord.Message,
        chat: ChatKey,
        context: UploadContext,
        worst: Judgement,
        decision: Decision,
    ) -> Flag | None:
        """Record the flag (the image's SHA-256 only); None if the message has one already."""
        if not await self._store.claim(chat, f"flag:{message.id}"):
            return None
        flag = await self._store.add_flag(
            NewFlag(
                chat=chat,
                channel=str(message.channel.id),  # a thread's own id, to find it again
                message=str(message.id),
                author=context.user,
                sha256=worst.sha256,
                fake_probability=worst.fake_probability,
                actions=decision.actions,
            )
        )
        log.info("flag %d: message %s (%s)", flag.id, message.id, decision.reason)
        return flag
