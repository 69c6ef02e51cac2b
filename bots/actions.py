"""A flag's actions, taken one by one on the platform through its `Port`.

React, warn, post to the mod-log, time out, delete: in that order (deleting last, since the
reaction and the warning need the message and the mod-log post links to it). One failing action
never stops the others. An action the platform refuses (e.g. HTTP 403) is switched off where it
was refused, atomically in the store, and the moderators are told once in the chat's words; a
message that went away meanwhile is logged, and anything the platform did not classify is a bug,
logged with its traceback.
"""

from __future__ import annotations

import logging

from bots import moderation_replies
from bots.i18n import Words
from bots.outage import Outage
from bots.port import Failure, M, Port, Post, R
from core.moderation.policy import usable_modlog, without_action
from core.moderation.types import Action, ChatKey, ChatPolicy, Flag, ModerationStore

log = logging.getLogger(__name__)

# Deleting last: the reaction and the warning need the message, the mod-log post links to it.
ACTION_ORDER = (Action.REACT, Action.WARN, Action.MODLOG, Action.TIMEOUT, Action.DELETE)


class Actions:
    """Takes a new flag's actions; shares the pipeline's store and outage."""

    def __init__(self, store: ModerationStore, outage: Outage) -> None:
        self._store = store
        self._outage = outage

    async def take(
        self,
        port: Port[M, R],
        chat: ChatKey,
        post: Post[M, R],
        message: M,
        flag: Flag,
        policy: ChatPolicy,
        words: Words,
    ) -> None:
        """Take each of the flag's actions on its own: a failure stops none of the others."""
        for action in ACTION_ORDER:
            if action not in flag.flag.actions:
                continue
            try:
                await self._take(port, action, message, flag, policy, words)
            except Exception as error:
                failure = port.failure(error, action)
                if failure is Failure.REFUSED:
                    await self._refused(port, chat, post, message, action, error, words)
                elif failure is Failure.GONE:
                    log.info("flag %d: %s found nothing: %s", flag.id, action, error)
                elif failure is Failure.FAILED:
                    log.warning("flag %d: %s failed: %s", flag.id, action, error)
                else:
                    log.error("flag %d: %s failed unexpectedly", flag.id, action, exc_info=error)

    async def _take(
        self,
        port: Port[M, R],
        action: Action,
        message: M,
        flag: Flag,
        policy: ChatPolicy,
        words: Words,
    ) -> None:
        if action is Action.REACT:
            await port.react(message)
        elif action is Action.WARN:
            await port.warn(
                message,
                moderation_replies.warning_text(
                    words,
                    flag.flag.fake_probability,
                    flag.flag.media.value,
                    declared=flag.flag.declared,
                ),
                flag,
                words,
            )
        elif action is Action.MODLOG and policy.modlog is not None:
            posted = await port.post_flag(message, flag, policy.modlog, words)
            await self._outage.attempt(self._store.set_modlog_message(flag.id, posted), None)
        elif action is Action.TIMEOUT:
            await port.time_out(message, policy.timeout_minutes, words)
        elif action is Action.DELETE:
            await port.delete(message)

    async def _refused(
        self,
        port: Port[M, R],
        chat: ChatKey,
        post: Post[M, R],
        message: M,
        action: Action,
        error: Exception,
        words: Words,
    ) -> None:
        """Switch `action` off where it was refused and tell the moderators, once.

        The store applies the switch atomically, so an admin editing the settings meanwhile
        keeps their change, and of two refusals at once only the first tells.
        """
        places: list[str] = []

        def switch_off(policy: ChatPolicy) -> ChatPolicy | None:
            place = policy.modlog if action is Action.MODLOG else post.context.channel
            if place is None or (place, action) in policy.disabled:
                return None  # told already
            places.append(place)
            return without_action(policy, place, action)

        # One atomic change: an admin's edit meanwhile stays, and one of two refusals tells.
        policy = await self._outage.attempt(self._store.change_policy(chat, switch_off), None)
        if policy is None:
            return  # told already (or not saved: told when it is refused again)
        log.warning(
            "%s refused %s in %s (%s); switched off there", chat.platform, action, places[0], error
        )
        notice = moderation_replies.permission_missing(
            words, action, port.place(message, places[0])
        )
        await port.tell(message, notice, usable_modlog(policy))
