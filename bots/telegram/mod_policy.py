"""The pure side of Telegram's `/settings`: the button panel, toggling an action, and reading
`/settings <name> <value>` into a changed policy.
"""

from __future__ import annotations

from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bots.telegram.mod_chat import author_id
from core.moderation.policy import with_mode, with_modlog, with_threshold
from core.moderation.types import Action, ChatPolicy, Mode

ACTIONS = (Action.REACT, Action.WARN, Action.MODLOG, Action.DELETE)


def keyboard(policy: ChatPolicy, chat: str) -> InlineKeyboardMarkup:
    """One row of modes (the current one marked), one row of actions (ticked when on)."""

    def mode(m: Mode) -> InlineKeyboardButton:
        mark = "• " if policy.mode is m else ""
        return InlineKeyboardButton(f"{mark}{m.value}", callback_data=f"dgs:mode:{m.value}")

    def action(a: Action) -> InlineKeyboardButton:
        mark = "✓ " if enabled(policy, chat, a) else ""
        return InlineKeyboardButton(f"{mark}{a.value}", callback_data=f"dgs:act:{a.value}")

    return InlineKeyboardMarkup([[mode(m) for m in Mode], [action(a) for a in ACTIONS]])


def enabled(policy: ChatPolicy, chat: str, action: Action) -> bool:
    where = policy.modlog if action is Action.MODLOG else chat
    return action in policy.actions and (where, action) not in policy.disabled


def toggled(policy: ChatPolicy, chat: str, action: Action) -> ChatPolicy:
    """Off when on; on (and no longer switched off after a refusal) when off."""
    if enabled(policy, chat, action):
        return replace(policy, actions=policy.actions - {action})
    disabled = frozenset(pair for pair in policy.disabled if pair[1] is not action)
    return replace(policy, actions=policy.actions | {action}, disabled=disabled)


def typed(policy: ChatPolicy, args: list[str], message: Message) -> ChatPolicy | None:
    """The policy after `/settings <name> <value>`, or None when the arguments make no sense."""
    name, value = [*args, "", ""][:2]
    target = message.reply_to_message
    if name in {"exempt", "unexempt"} and not value and target is not None:
        value = author_id(target)
    try:
        if name in {"threshold", "uncertain"}:
            number = float(value.rstrip("%"))
            number = number / 100 if number > 1 else number
            if not 0 <= number <= 1:
                return None
            if name == "threshold":
                return with_threshold(policy, number)
            return replace(policy, uncertain_from=number)
        if name == "modlog":
            return with_modlog(policy, None if value == "off" else str(int(value)))
        if name == "mode":
            return with_mode(policy, Mode(value))
        if name in {"exempt", "unexempt"}:
            users = {str(int(value))}
            changed = (
                policy.exempt_users | users if name == "exempt" else policy.exempt_users - users
            )
            return replace(policy, exempt_users=frozenset(changed))
    except ValueError:
        return None
    return None
