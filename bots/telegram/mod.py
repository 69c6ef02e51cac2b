"""Moderation of judged Telegram images: the chat's policy, the decision, the flag's actions.

The handlers ask three things: should this chat's images be looked at at all (a chat with
moderation off costs no download), should the verdict be posted, and what to do with each
judged image. The answers come from `core.moderation.decide`; this module only renders them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Bot, Message

from bots.telegram.mod_actions import FlagActions
from bots.telegram.mod_chat import chat_key, is_private, upload_context
from core.moderation.policy import decide, moderates
from core.moderation.types import ChatPolicy, Mode, ModerationStore
from core.result import Judgement

log = logging.getLogger(__name__)

Judged = tuple[Message, Judgement]


class Moderator:
    """Per-chat policy and flags, backed by the store; built once and shared by the handlers."""

    def __init__(self, store: ModerationStore) -> None:
        self._store = store
        self._actions = FlagActions(store)

    async def claim(self, message: Message, what: str) -> bool:
        """True the first time this message is handled, across restarts and processes."""
        return await self._store.claim(chat_key(message.chat_id), f"{message.message_id}:{what}")

    async def policy(self, message: Message) -> ChatPolicy:
        return await self._store.policy(chat_key(message.chat_id), private=is_private(message))

    @staticmethod
    def scans(policy: ChatPolicy, message: Message) -> bool:
        """Whether images posted in this chat are looked at without anyone asking."""
        return is_private(message) or policy.mode is not Mode.OFF

    @staticmethod
    def defers(policy: ChatPolicy, message: Message) -> bool:
        """Whether every image here must be scanned: one over its sender's rate waits its turn."""
        return moderates(policy, upload_context(message))

    @staticmethod
    def answers(policy: ChatPolicy, message: Message, *, requested: bool = False) -> bool:
        """Whether the verdict is posted (it does not depend on the probability)."""
        return decide(policy, 0.0, upload_context(message, requested=requested)).answer

    async def review(
        self, bot: Bot, policy: ChatPolicy, judged: Sequence[Judged], *, requested: bool = False
    ) -> None:
        """Count the images and flag those the policy says to, each on its own message."""
        if not judged:
            return
        await self._store.count_scanned(chat_key(judged[0][0].chat_id), len(judged))
        for message, judgement in judged:
            context = upload_context(message, requested=requested)
            decision = decide(policy, judgement.fake_probability, context)
            log.debug("telegram %s/%s: %s", message.chat_id, message.message_id, decision.reason)
            # /check on a message already flagged (or a redelivered album) flags it once.
            if decision.flag and await self.claim(message, f"flag:{judgement.sha256[:16]}"):
                await self._actions.take(bot, message, judgement, decision)
