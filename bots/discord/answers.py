"""From a member's images to the one text the Discord bot says about them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bots.discord.inputs import ImageSource, is_image
from bots.replies import BUSY, THROTTLED, Outcome, outcomes_text
from bots.throttle import Admission, Throttle
from config import ReplySettings, Settings
from core.detector import Judge
from core.errors import DeepGuardError, Overloaded
from core.result import Judgement


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the bot would say about some images, and what it found."""

    text: str | None
    outcomes: list[Outcome]

    @property
    def judgements(self) -> list[Judgement]:
        return [outcome for outcome in self.outcomes if isinstance(outcome, Judgement)]


class Checker:
    """Throttles a user, fetches and judges their images together, and words the result."""

    def __init__(self, settings: Settings, detector: Judge, throttle: Throttle) -> None:
        self._bands = settings.replies
        self._burst = settings.throttle.burst
        self._detector = detector
        self._throttle = throttle

    async def check(
        self, user_id: int, sources: Sequence[ImageSource], *, must_answer: bool
    ) -> str | None:
        """The reply for `sources`, or None when there is nothing to say.

        A throttled user hears about it once per burst in a channel; someone who asked the
        bot directly (`must_answer`) is always told.
        """
        return (await self.assess(user_id, sources, must_answer=must_answer)).text

    async def assess(
        self,
        user_id: int,
        sources: Sequence[ImageSource],
        *,
        must_answer: bool,
        bands: ReplySettings | None = None,
        defer: bool = False,
    ) -> Assessment:
        """The reply and the outcomes behind it, for moderation to decide on.

        `bands` are a server's own (its flag threshold and uncertain band); by default the
        operator's. With `defer` (a moderated channel, where every image must be scanned)
        images over the user's rate wait for it before they are fetched, rather than drop.
        """
        if not sources:
            return Assessment(None, [])
        cost = min(len(sources), self._burst)
        if defer:
            admission = await self._throttle.wait(user_id, cost)
        else:
            admission = self._throttle.admit(user_id, cost)
        if admission is Admission.REFUSE_AND_NOTIFY or (
            must_answer and admission is Admission.REFUSE_SILENTLY
        ):
            return Assessment(THROTTLED, [])
        if admission is Admission.REFUSE_SILENTLY:
            return Assessment(None, [])
        outcomes = await self.outcomes(sources)
        return Assessment(self.text(outcomes, bands), outcomes)

    async def outcomes(self, sources: Sequence[ImageSource]) -> list[Outcome]:
        """Judge all images at once, so they share a batch; unlabelled non-images drop out."""
        try:
            async with asyncio.TaskGroup() as group:  # a bug in one cancels the rest
                tasks = [group.create_task(self._one(source)) for source in sources]
        except BaseExceptionGroup as bugs:
            raise bugs.exceptions[0] from None  # log the bug itself, not its wrapper
        return [outcome for task in tasks if (outcome := task.result()) is not None]

    def text(self, outcomes: Sequence[Outcome], bands: ReplySettings | None = None) -> str | None:
        if not outcomes:
            return None
        judged = any(isinstance(outcome, Judgement) for outcome in outcomes)
        if not judged and any(isinstance(outcome, Overloaded) for outcome in outcomes):
            return BUSY
        return outcomes_text(outcomes, bands or self._bands)

    async def _one(self, source: ImageSource) -> Outcome | None:
        try:
            data = await source.fetch()
        except DeepGuardError as error:
            return None if source.sniff else error
        if source.sniff and not is_image(data):
            return None
        try:
            return await self._detector.judge(data)
        except DeepGuardError as error:
            return error
