"""Per-chat moderation: a pure policy decision and the storage behind it."""

from core.moderation.policy import (
    decide,
    default_policy,
    moderates,
    with_mode,
    with_modlog,
    with_threshold,
    without_action,
)
from core.moderation.retention import purge_regularly
from core.moderation.store import SqlStore
from core.moderation.types import (
    Action,
    ChatKey,
    ChatPolicy,
    ChatStats,
    Decision,
    Flag,
    FlagStatus,
    Mode,
    ModerationStore,
    NewFlag,
    UploadContext,
)

__all__ = [
    "Action",
    "ChatKey",
    "ChatPolicy",
    "ChatStats",
    "Decision",
    "Flag",
    "FlagStatus",
    "Mode",
    "ModerationStore",
    "NewFlag",
    "SqlStore",
    "UploadContext",
    "decide",
    "default_policy",
    "moderates",
    "purge_regularly",
    "with_mode",
    "with_modlog",
    "with_threshold",
    "without_action",
]
