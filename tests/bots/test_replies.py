"""Both bots word results the same way: a probability and a band, never proof."""

from __future__ import annotations

import pytest

from bots import replies
from config import ReplySettings
from core.errors import CorruptImage, Overloaded
from core.result import Judgement, Scores, judge_scores

BANDS = ReplySettings()


def _judgement(fake: float) -> Judgement:
    return judge_scores(Scores(fake, {"Real": 1 - fake, "Fake": fake}), 0.5, "0" * 64)


@pytest.mark.parametrize(
    ("fake", "wording"),
    [
        (0.93, "likely AI-generated"),
        (0.7, "likely AI-generated"),
        (0.5, "uncertain"),
        (0.3, "uncertain"),
        (0.29, "likely real"),
        (0.0, "likely real"),
    ],
)
def test_three_bands(fake: float, wording: str) -> None:
    """The band edges follow the settings: fake from 0.7 up, real below 0.3."""
    assert replies.band(fake, BANDS) == wording


def test_verdict_text_has_percentage_and_disclaimer() -> None:
    """A single verdict shows the percentage and says it is an estimate."""
    text = replies.verdict_text(_judgement(0.934), BANDS)
    assert "93%" in text
    assert "Likely AI-generated" in text
    assert replies.DISCLAIMER in text


def test_bands_are_configurable() -> None:
    """Operators can move the band edges."""
    bands = ReplySettings(likely_fake_from=0.9, likely_real_below=0.1)
    assert "Uncertain" in replies.verdict_text(_judgement(0.8), bands)


def test_several_outcomes_in_one_reply() -> None:
    """An album or multi-attachment message gets one numbered line per image, errors included."""
    text = replies.outcomes_text([_judgement(0.1), CorruptImage(), _judgement(0.95)], BANDS)
    lines = text.splitlines()
    assert lines[0].startswith("Image 1: ")
    assert "10%" in lines[0]
    assert lines[1].startswith("Image 2: ")
    assert "damaged" in lines[1]
    assert lines[2].startswith("Image 3: ")
    assert "95%" in lines[2]
    assert lines[3] == replies.DISCLAIMER


def test_single_error_is_polite() -> None:
    """A refusal names the reason without a disclaimer about a verdict that does not exist."""
    text = replies.outcomes_text([Overloaded()], BANDS)
    assert "try again" in text
    assert replies.DISCLAIMER not in text


def test_busy_only_when_nothing_was_judged() -> None:
    """Overload alone reads as busy; next to a verdict it is one line among others."""
    judged = _judgement(0.4)
    assert replies.answer_text([Overloaded(), CorruptImage()], BANDS) == replies.BUSY
    mixed: list[replies.Outcome] = [judged, Overloaded()]
    assert replies.answer_text(mixed, BANDS) == replies.outcomes_text(mixed, BANDS)
    assert replies.answer_text([], BANDS) is None
