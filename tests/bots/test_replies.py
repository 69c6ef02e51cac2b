"""Both bots word results the same way: a probability and a band, never proof."""

from __future__ import annotations

import pytest

from bots import replies
from config import ReplySettings
from core.errors import CorruptImage, Overloaded
from core.result import Judgement, ModelScores, Scores, judge_scores

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


def _ensemble(*fakes: float, threshold: float = 0.5) -> Judgement:
    models = tuple(ModelScores(f"m{i}", Scores(p, {"Fake": p})) for i, p in enumerate(fakes))
    mean = sum(fakes) / len(fakes)
    return judge_scores(Scores(mean, {"fake": mean}, models), threshold, "0" * 64)


@pytest.mark.parametrize(
    ("fakes", "line"),
    [
        ((0.9, 0.6, 0.2), "2 of 3 models lean AI-generated"),
        ((0.5, 0.49), "1 of 2 models leans AI-generated"),
        ((0.1, 0.2, 0.3), "0 of 3 models lean AI-generated"),
        ((0.8, 0.7), "2 of 2 models lean AI-generated"),
    ],
)
def test_models_line_counts_models_at_the_threshold(fakes: tuple[float, ...], line: str) -> None:
    """With several models, one line says how many lean AI-generated (at or above 0.5)."""
    assert replies.models_line(_ensemble(*fakes)) == line


def test_models_line_follows_the_threshold_and_needs_several_models() -> None:
    """The verdict's threshold decides leaning; one model gets no such line."""
    assert replies.models_line(_ensemble(0.9, 0.6, 0.2, threshold=0.7)) == (
        "1 of 3 models leans AI-generated"
    )
    assert replies.models_line(_judgement(0.9)) is None
