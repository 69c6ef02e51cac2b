"""What an adapter hands the chat pipeline (`Event`, `Post`, `Image`) and implements (`Port`).

An adapter collects the images of a platform event into an `Event` and hands it to
`bots.pipeline.Pipeline.run` with its `Port`: the small set of platform calls the sequence
needs (fetch bytes, reply, react, warn, delete, time out, post to the mod-log, tell the
moderators). `M` is a platform's message, which actions are taken on; `R` what it needs to
fetch one image.

Languages: the pipeline writes in the chat's language (its saved `ChatPolicy.language`, else the
event's `chat_language`), except an answer meant for one person (a private chat, an interaction),
written in `answer_language`; the platform calls that write words of their own get the `Words`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Generic, Protocol, TypeVar

from bots.i18n import Words
from core.moderation.types import Action, ChatKey, Flag, UploadContext

M = TypeVar("M")  # a platform's message, which actions are taken on
R = TypeVar("R")  # what a platform needs to fetch one image
M_contra = TypeVar("M_contra", contravariant=True)
R_contra = TypeVar("R_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class Image(Generic[R]):
    """One image of a message: `key` is stable across replays and edits, `ref` fetches it."""

    key: str
    ref: R
    sniff: bool = False  # not labelled as an image: skipped quietly unless its bytes are one


@dataclass(frozen=True, slots=True)
class Post(Generic[M, R]):
    """One platform message: its images are judged, and it is flagged as one."""

    id: str  # the message's id in its chat
    channel: str  # where the message is (a thread's own id), to find it again
    context: UploadContext  # who posted it where, as the policy sees it
    images: Sequence[Image[R]]
    message: M | None = None  # what actions are taken on; None: nothing to flag (an attachment)
    sent: datetime | None = None  # when it was posted, by the platform's clock


@dataclass(frozen=True, slots=True)
class Event(Generic[M, R]):
    """What an adapter collected from one platform event: a message, an album or a request."""

    chat: ChatKey
    sender: Hashable  # whose rate the images spend
    context: UploadContext  # the answer's: a request's is `requested`
    posts: Sequence[Post[M, R]]
    # The language tag of the person a personal answer is for (a private chat: Telegram's
    # `language_code`; an interaction: Discord's `interaction.locale`); None: answer in the chat's.
    answer_language: str | None = None
    # The platform's default language for the chat (Discord: the server's `preferred_locale`),
    # used when the chat saved none; None: English.
    chat_language: str | None = None

    @property
    def requested(self) -> bool:
        return self.context.requested


class Failure(Enum):
    """What a platform error from an action means."""

    REFUSED = "refused"  # not allowed there (a missing right): switch it off, tell once
    GONE = "gone"  # the message, member or channel went away meanwhile
    FAILED = "failed"  # anything else the platform said: the next flag may well work


class Port(Protocol[M_contra, R_contra]):
    """The platform calls of one event; each adapter implements it on its real client.

    The actions (react, warn, delete, time out, post the flag) raise their library's errors,
    which `failure` classifies; `reply` and `tell` log their own platform errors and raise only
    for a bug.
    """

    async def fetch(self, ref: R_contra) -> bytes:
        """An image's bytes; a `DeepGuardError` says politely why they could not be had."""
        ...

    async def reply(self, text: str, flag: Flag | None, words: Words) -> None:
        """Answer the event; `flag` is the upload's, for a platform that offers reporting it
        (its button in `words`, the answer's language)."""
        ...

    async def react(self, message: M_contra) -> None: ...

    async def warn(self, message: M_contra, text: str, flag: Flag, words: Words) -> None:
        """Reply to the flagged message with a warning the poster can report as a mistake."""
        ...

    async def delete(self, message: M_contra) -> None: ...

    async def time_out(self, message: M_contra, minutes: int, words: Words) -> None:
        """Time the poster out; the platform's audit log gives the reason in `words`."""
        ...

    async def post_flag(self, message: M_contra, flag: Flag, modlog: str, words: Words) -> str:
        """Post the flag with its review buttons to the mod-log, in the chat's language `words`;
        the post's id, to edit it."""
        ...

    async def tell(self, message: M_contra, text: str, modlog: str | None) -> None:
        """Tell the moderators: in `modlog`, or where the platform reaches them without one."""
        ...

    def place(self, message: M_contra, channel: str) -> str:
        """How a notice names `channel`, where an action was refused."""
        ...

    def failure(self, error: Exception, action: Action) -> Failure | None:
        """What a platform error from `action` means; None when it is not one (a bug)."""
        ...
