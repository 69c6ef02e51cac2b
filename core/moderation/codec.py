"""Moderation values to and from their stored form: the columns `schema` gives them.

A policy is JSON, so that it can grow without a migration per field. Reading is lenient on
purpose: a field missing from an older row takes its default, and a value a newer version wrote
but this one does not know (an unknown action) is dropped rather than failing the chat.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from core.moderation.types import (
    Action,
    ChatKey,
    ChatPolicy,
    Flag,
    FlagStatus,
    Mode,
    NewFlag,
)


def policy_to_json(policy: ChatPolicy) -> str:
    data: dict[str, Any] = {
        "mode": policy.mode.value,
        "threshold": policy.threshold,
        "uncertain_from": policy.uncertain_from,
        "actions": sorted(a.value for a in policy.actions),
        "modlog": policy.modlog,
        "pending_modlog": policy.pending_modlog,
        "exempt_channels": sorted(policy.exempt_channels),
        "exempt_roles": sorted(policy.exempt_roles),
        "exempt_users": sorted(policy.exempt_users),
        "new_members_days": policy.new_members_days,
        "timeout_minutes": policy.timeout_minutes,
        "disabled": sorted([channel, action.value] for channel, action in policy.disabled),
        "explicit_mode": policy.explicit_mode,
        "declared_ai_is_fake": policy.declared_ai_is_fake,
        "language": policy.language,
    }
    return json.dumps(data, sort_keys=True)


def policy_from_json(text: str) -> ChatPolicy:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a stored policy must be a JSON object")
    known = {f.name for f in fields(ChatPolicy)}
    kwargs: dict[str, Any] = {k: v for k, v in data.items() if k in known}
    if "mode" in kwargs:
        kwargs["mode"] = Mode(kwargs["mode"])
    if "actions" in kwargs:
        kwargs["actions"] = frozenset(_actions(kwargs["actions"]))
    for name in ("exempt_channels", "exempt_roles", "exempt_users"):
        if name in kwargs:
            kwargs[name] = frozenset(str(item) for item in kwargs[name])
    if "disabled" in kwargs:
        kwargs["disabled"] = frozenset(
            (str(channel), Action(action))
            for channel, action in kwargs["disabled"]
            if action in Action._value2member_map_
        )
    if "declared_ai_is_fake" in kwargs:
        kwargs["declared_ai_is_fake"] = bool(kwargs["declared_ai_is_fake"])
    if kwargs.get("language") is not None:
        kwargs["language"] = str(kwargs["language"])
    return ChatPolicy(**kwargs)


def _actions(values: list[str]) -> list[Action]:
    return [Action(v) for v in values if v in Action._value2member_map_]


def actions_to_text(actions: frozenset[Action]) -> str:
    return ",".join(sorted(a.value for a in actions))


def flag_from_row(row: Mapping[Any, Any]) -> Flag:
    """A `flags` row as a `Flag` (actions this version does not know are left out)."""
    new = NewFlag(
        chat=ChatKey(row["platform"], row["chat"]),
        channel=row["channel"],
        message=row["message"],
        author=row["author"],
        sha256=row["sha256"],
        fake_probability=row["fake_probability"],
        actions=frozenset(_actions(row["actions"].split(","))),
    )
    return Flag(
        id=row["id"],
        flag=new,
        status=FlagStatus(row["status"]),
        created_at=row["created_at"],
        reviewer=row["reviewer"],
        reviewed_at=row["reviewed_at"],
        modlog_message=row["modlog_message"],
        reported_at=row["reported_at"],
    )
