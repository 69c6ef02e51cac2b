"""A fake platform for the chat pipeline: a port that records every call, and a scripted judge.

`FakePort` implements `bots.pipeline.Port` over plain strings: messages are `Message(id)`,
images are fetched by name from `files`, and any call can be told to fail with `fail()`. Its
platform errors are the three below, classified the way a real port classifies its library's.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from dataclasses import dataclass

from bots.i18n import Words
from bots.port import Event, Failure, Image, Post
from core.errors import DeepGuardError, ExplanationUnavailable
from core.explain import Explanation
from core.moderation.types import Action, ChatKey, Flag, UploadContext
from core.result import Evidence, Judgement, Scores, judge_scores

CHAT = ChatKey("fake", "group")


class PlatformRefused(Exception):
    """The platform forbids the call here (HTTP 403)."""


class PlatformGone(Exception):
    """What the call was about no longer exists (HTTP 404)."""


class PlatformFailed(Exception):
    """Any other platform error (HTTP 500, a timeout)."""


@dataclass(frozen=True, slots=True)
class Message:
    id: str


Call = tuple[str, ...]


class FakePort:
    """Records `(method, details...)` per call, in order; `fail` makes the next calls raise."""

    def __init__(self, files: dict[str, bytes | DeepGuardError]) -> None:
        self.files = files
        self.calls: list[Call] = []
        self.languages: list[tuple[str, str]] = []  # (method, the catalog it wrote in)
        self._failures: defaultdict[str, deque[Exception]] = defaultdict(deque)

    def fail(self, method: str, error: Exception, times: int = 1) -> None:
        self._failures[method].extend([error] * times)

    def names(self) -> list[str]:
        """The methods called, in order."""
        return [call[0] for call in self.calls]

    def _call(self, *call: str) -> None:
        self.calls.append(call)
        if self._failures[call[0]]:
            raise self._failures[call[0]].popleft()

    async def fetch(self, ref: str) -> bytes:
        self._call("fetch", ref)
        data = self.files[ref]
        if isinstance(data, DeepGuardError):
            raise data
        return data

    async def reply(self, text: str, flag: Flag | None, words: Words) -> None:
        self.languages.append(("reply", words.code))
        self._call("reply", text, "" if flag is None else str(flag.id))

    async def react(self, message: Message) -> None:
        self._call("react", message.id)

    async def warn(self, message: Message, text: str, flag: Flag, words: Words) -> None:
        self.languages.append(("warn", words.code))
        self._call("warn", message.id, text, str(flag.id))

    async def delete(self, message: Message) -> None:
        self._call("delete", message.id)

    async def time_out(self, message: Message, minutes: int, words: Words) -> None:
        self._call("time_out", message.id, str(minutes))

    async def post_flag(self, message: Message, flag: Flag, modlog: str, words: Words) -> str:
        self.languages.append(("post_flag", words.code))
        self._call("post_flag", message.id, str(flag.id), modlog)
        return f"post-{flag.id}"

    async def tell(self, message: Message, text: str, modlog: str | None) -> None:
        self._call("tell", text, modlog or "(owner)")

    def place(self, message: Message, channel: str) -> str:
        return f"#{channel}"

    def failure(self, error: Exception, action: Action) -> Failure | None:
        if isinstance(error, PlatformRefused):
            return Failure.REFUSED
        if isinstance(error, PlatformGone):
            return Failure.GONE
        if isinstance(error, PlatformFailed):
            return Failure.FAILED
        return None


class ScriptedJudge:
    """Judges bytes by a script: a fake probability, or an exception to raise (0.5 otherwise)."""

    depth = 0

    def __init__(self, script: dict[bytes, float | Exception] | None = None) -> None:
        self.script = script or {}
        self.declarations: dict[bytes, tuple[Evidence, ...]] = {}  # what an image says it is
        self.judged: list[bytes] = []

    async def judge(self, data: bytes) -> Judgement:
        self.judged.append(data)
        scripted = self.script.get(data, 0.5)
        if isinstance(scripted, Exception):
            raise scripted
        scores = Scores(scripted, {"Real": 1 - scripted, "Fake": scripted})
        sha256 = hashlib.sha256(data).hexdigest()
        return judge_scores(scores, 0.5, sha256, provenance=self.declarations.get(data, ()))

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        raise ExplanationUnavailable()


def context(
    user: str = "bob",
    *,
    channel: str = "general",
    private: bool = False,
    requested: bool = False,
) -> UploadContext:
    return UploadContext(private=private, channel=channel, user=user, requested=requested)


def post(
    message_id: str, *refs: str, sniff: bool = False, who: UploadContext | None = None
) -> Post[Message, str]:
    """A message with images fetched by name (their keys are their names)."""
    who = who or context()
    images = [Image(ref, ref, sniff=sniff) for ref in refs]
    return Post(message_id, who.channel, who, images, Message(message_id))


def event(*posts: Post[Message, str], who: UploadContext | None = None) -> Event[Message, str]:
    """An event of `posts` (by default one message `m1` with image `a`), from its first poster."""
    found = posts or (post("m1", "a"),)
    who = who or found[0].context
    return Event(CHAT, who.user, who, found)
