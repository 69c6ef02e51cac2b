"""Per-chat moderation: a pure policy decision and the storage behind it."""

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
    "UploadContext",
]
