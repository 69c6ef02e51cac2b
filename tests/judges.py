"""Judges for the bots' end-to-end tests, and the wording a real judge's answers get."""

from __future__ import annotations

import asyncio
import re

import pytest

from bots import replies
from bots.i18n import english
from bots.replies import Outcome
from config import Settings
from core.detector import Judge
from core.errors import DeepGuardError
from core.explain import Explanation
from core.result import Judgement

ENGLISH = english()

# The fields of a still image's answer, in `deepguard check --json` (plus "file") and the API.
CHECK_JSON_FIELDS = {
    "fake_probability",
    "real_probability",
    "verdict",
    "threshold",
    "classes",
    "sha256",
    "queue_ms",
    "model_ms",
    "cached",
    "provenance",
    "declared_ai",
    "verdict_reason",
    "media",  # a still image: no frames, duration_s or frames_decoded
}
PERCENT = re.compile(r"\b\d{1,3}%")  # the fake probability in a reply, however it is worded
DROPPED = "dropping more unscanned"  # the throttle's warning when a user's waiting images overflow


async def dropped(caplog: pytest.LogCaptureFixture) -> bool:
    """Whether the throttle has logged dropping an image (a log line has no event to await)."""
    return any(DROPPED in record.message for record in caplog.records)


class GatedJudge:
    """Passes images to a real judge once `gate` is set; `entered` tells a call arrived."""

    def __init__(self, inner: Judge, depth: int = 0) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self._depth = depth

    @property
    def depth(self) -> int:
        return self._depth

    async def judge(self, data: bytes) -> Judgement:
        self.entered.set()
        await self.gate.wait()
        return await self.inner.judge(data)

    async def explain(self, data: bytes, *, legend: str | None = None) -> Explanation:
        await self.gate.wait()
        return await self.inner.explain(data, legend=legend)


async def expected(detector: Judge, settings: Settings, *images: bytes) -> str:
    """The shared wording for these images, judged by the same detector (or its refusals)."""
    outcomes: list[Outcome] = []
    for image in images:
        try:
            outcomes.append(await detector.judge(image))
        except DeepGuardError as error:
            outcomes.append(error)
    return replies.outcomes_text(ENGLISH, outcomes, settings.replies)
