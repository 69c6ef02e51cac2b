"""What moderation is made of: per-chat policy, the context of an upload, the decision, and flags.

Platform-free on purpose: a chat, channel, user, role or message is an opaque string id, so the
same policy and storage serve Discord servers and Telegram groups. Adapters only render a
`Decision` and record what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.result import Media


class Mode(StrEnum):
    """What the bot does with images in a chat."""

    REPLY_ALL = "reply-all"  # answer every image (and flag the suspicious ones)
    FLAG_ONLY = "flag-only"  # silent unless the fake probability reaches the threshold
    OFF = "off"  # ignore images; explicit /check still answers


class Action(StrEnum):
    """What happens to an upload that is flagged."""

    REACT = "react"  # a marker reaction on the message
    WARN = "warn"  # a warning reply to the message
    MODLOG = "modlog"  # a post in the mod-log channel/chat with Confirm / Dismiss
    DELETE = "delete"  # delete the message (never on by default)
    TIMEOUT = "timeout"  # Discord only, opt-in: time the author out


class FlagStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class ChatKey:
    """One server (Discord) or group/private chat (Telegram)."""

    platform: str  # "discord" | "telegram"
    chat: str


@dataclass(frozen=True, slots=True)
class ChatPolicy:
    """A chat's moderators' choices; `ChatPolicy.default(private=...)` for a new chat."""

    mode: Mode = Mode.REPLY_ALL
    threshold: float = 0.7  # flag at or above this fake probability
    uncertain_from: float = 0.3  # below this the reply says "likely real"
    actions: frozenset[Action] = frozenset({Action.REACT, Action.MODLOG})
    modlog: str | None = None  # channel id (Discord) or chat id (Telegram)
    pending_modlog: str | None = None  # asked to become the mod-log; unused until it confirms
    exempt_channels: frozenset[str] = frozenset()
    exempt_roles: frozenset[str] = frozenset()
    exempt_users: frozenset[str] = frozenset()
    new_members_days: int | None = None  # only scan authors who joined less than N days ago
    timeout_minutes: int = 10
    # (channel, action) pairs switched off after the platform refused them (HTTP 403).
    disabled: frozenset[tuple[str, Action]] = frozenset()
    explicit_mode: bool = False  # a moderator chose the mode (setting a mod-log won't change it)
    # An image whose own Content Credentials or metadata declare AI is FAKE whatever the model
    # says; off, the model alone decides (the declaration is still shown).
    declared_ai_is_fake: bool = True
    # The language the chat's channel replies and mod-log posts are written in, a catalog code
    # ("fr", "pt_BR"); None is the platform's default (Discord: the server's preferred locale;
    # Telegram groups: English). Private chats and interactions follow their user instead.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class UploadContext:
    """Who posted where, as far as the policy cares."""

    private: bool  # a one-to-one chat with the bot: no moderators, never flagged
    channel: str
    user: str
    roles: frozenset[str] = frozenset()
    member_days: float | None = None  # days since the author joined, when the platform says
    requested: bool = False  # someone asked explicitly (/check, context menu): always answer


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one judged upload."""

    answer: bool  # post the usual verdict reply
    flag: bool  # record a flag and take `actions`
    actions: frozenset[Action] = frozenset()
    reason: str = ""  # why, in a word or two, for logs and tests


@dataclass(frozen=True, slots=True)
class NewFlag:
    """A suspicious upload, as recorded (never the image itself: its SHA-256 only)."""

    chat: ChatKey
    channel: str
    message: str
    author: str
    sha256: str
    fake_probability: float
    actions: frozenset[Action]
    # The image's own declaration of AI in words, when that (not the model) flagged it: for the
    # warning and the mod-log post only; not stored, so a flag read back again has None.
    declared: str | None = None
    # What the upload was (a clip is one upload), for the same two texts; not stored either.
    media: Media = Media.IMAGE


# Flag ids are the database's 32-bit integers (PostgreSQL's SERIAL): a larger one names no flag.
FLAG_ID_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Flag:
    id: int
    flag: NewFlag
    status: FlagStatus
    created_at: datetime
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    modlog_message: str | None = None  # the mod-log post, to edit it after a review
    reported_at: datetime | None = None  # when the poster reported it as a mistake


@dataclass(frozen=True, slots=True)
class ChatStats:
    scanned: int = 0
    flagged: int = 0
    confirmed: int = 0
    dismissed: int = 0
    reported: int = 0  # flags their poster reported as a mistake
    extra: dict[str, int] = field(default_factory=dict)


class ModerationStore(Protocol):
    """Durable moderation state; `core.moderation.store.SqlStore` is the implementation."""

    async def policy(self, chat: ChatKey, *, private: bool) -> ChatPolicy:
        """The chat's saved policy, or the default for a new chat."""
        ...

    async def save_policy(self, chat: ChatKey, policy: ChatPolicy) -> None: ...

    async def change_policy(
        self,
        chat: ChatKey,
        change: Callable[[ChatPolicy], ChatPolicy | None],
        *,
        private: bool = False,
    ) -> ChatPolicy | None:
        """Apply `change` atomically (no concurrent change is lost); None if it saved nothing."""
        ...

    async def claim(self, chat: ChatKey, message: str) -> bool:
        """True the first time a message is seen, ever (across restarts and processes)."""
        ...

    async def count_scanned(self, chat: ChatKey, images: int) -> None: ...

    async def add_flag(self, flag: NewFlag) -> Flag: ...

    async def set_modlog_message(self, flag_id: int, message: str) -> None: ...

    async def get_flag(self, flag_id: int) -> Flag | None: ...

    async def review(self, flag_id: int, status: FlagStatus, reviewer: str) -> Flag | None:
        """Close an open flag; None when it is unknown or already reviewed."""
        ...

    async def report(self, flag_id: int) -> bool:
        """Record that the poster reported the flag as a mistake; True the first time only."""
        ...

    async def stats(self, chat: ChatKey, since: datetime) -> ChatStats: ...

    async def purge(self, now: datetime) -> int:
        """Drop processed keys and closed flags older than the retention; how many rows went."""
        ...

    async def forget(self, chat: ChatKey) -> None:
        """Delete everything stored about a chat (the bot left, or an admin asked)."""
        ...

    async def move(self, old: ChatKey, new: ChatKey) -> None:
        """The chat's id changed (a Telegram group became a supergroup): keep its data."""
        ...
