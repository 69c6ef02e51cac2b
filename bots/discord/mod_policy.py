"""The pure policy edits behind `/deepguard settings`: showing, switching actions, id sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from bots.replies import exemptions_text, settings_text
from core.moderation.types import Action, ChatPolicy

Change = Callable[[ChatPolicy], ChatPolicy]
Edit = Literal["add", "remove"]
Exemption = Literal["exempt_channels", "exempt_roles", "exempt_users"]


def show(policy: ChatPolicy) -> str:
    modlog = f"<#{policy.modlog}>" if policy.modlog else None
    channels = [f"<#{c}>" for c in sorted(policy.exempt_channels)]
    roles = [f"<@&{r}>" for r in sorted(policy.exempt_roles)]
    extra = exemptions_text(channels, roles, policy.new_members_days)
    return f"{settings_text(policy, modlog)}\n{extra}"


def edited(ids: frozenset[str], edit: Edit, item: str) -> frozenset[str]:
    return ids | {item} if edit == "add" else ids - {item}


def exempting(field: Exemption, edit: Edit, item: str) -> Change:
    """The change that adds `item` to, or removes it from, one of the exemption sets."""

    def change(policy: ChatPolicy) -> ChatPolicy:
        changed: dict[str, Any] = {field: edited(getattr(policy, field), edit, item)}
        return replace(policy, **changed)

    return change


def with_actions(
    policy: ChatPolicy, wanted: dict[Action, bool | None], minutes: int | None
) -> ChatPolicy:
    """Switch the named actions on or off; switching one on again forgets its refusals."""
    actions = set(policy.actions)
    for action, on in wanted.items():
        if on is not None:
            (actions.add if on else actions.discard)(action)
    back_on = {a for a, on in wanted.items() if on}
    disabled = frozenset(pair for pair in policy.disabled if pair[1] not in back_on)
    return replace(
        policy,
        actions=frozenset(actions),
        disabled=disabled,
        timeout_minutes=minutes or policy.timeout_minutes,
    )
