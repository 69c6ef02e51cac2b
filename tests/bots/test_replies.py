"""Both bots word results the same way: a probability and a band, never proof."""

from __future__ import annotations

import pytest

from bots import moderation_replies, replies
from bots.i18n import english
from config import ReplySettings
from core.errors import (
    ClipTooLong,
    CorruptImage,
    DamagedClip,
    DeepGuardError,
    NoPicture,
    Overloaded,
)
from core.result import (
    Clip,
    Declares,
    Evidence,
    FrameScore,
    Judgement,
    Media,
    ModelScores,
    Scores,
    Source,
    State,
    judge_scores,
)

ENGLISH = english()

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
    assert replies.band(ENGLISH, fake, BANDS) == wording


def test_verdict_text_has_percentage_and_disclaimer() -> None:
    """A single verdict shows the percentage and says it is an estimate."""
    text = replies.verdict_text(ENGLISH, _judgement(0.934), BANDS)
    assert "93%" in text
    assert "Likely AI-generated" in text
    assert replies.DISCLAIMER in text


def test_bands_are_configurable() -> None:
    """Operators can move the band edges."""
    bands = ReplySettings(likely_fake_from=0.9, likely_real_below=0.1)
    assert "Uncertain" in replies.verdict_text(ENGLISH, _judgement(0.8), bands)


def test_several_outcomes_in_one_reply() -> None:
    """An album or multi-attachment message gets one numbered line per image, errors included."""
    text = replies.outcomes_text(
        ENGLISH, [_judgement(0.1), CorruptImage(), _judgement(0.95)], BANDS
    )
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
    text = replies.outcomes_text(ENGLISH, [Overloaded()], BANDS)
    assert "try again" in text
    assert replies.DISCLAIMER not in text


def test_busy_only_when_nothing_was_judged() -> None:
    """Overload alone reads as busy; next to a verdict it is one line among others."""
    judged = _judgement(0.4)
    assert replies.answer_text(ENGLISH, [Overloaded(), CorruptImage()], BANDS) == replies.BUSY
    mixed: list[replies.Outcome] = [judged, Overloaded()]
    assert replies.answer_text(ENGLISH, mixed, BANDS) == replies.outcomes_text(
        ENGLISH, mixed, BANDS
    )
    assert replies.answer_text(ENGLISH, [], BANDS) is None


class TestProvenanceLine:
    """The line under the verdict saying what the image declares about itself."""

    @staticmethod
    def _with(*evidence: Evidence) -> Judgement:
        return judge_scores(
            Scores(0.1, {"Real": 0.9, "Fake": 0.1}), 0.5, "0" * 64, provenance=evidence
        )

    @pytest.mark.parametrize(
        ("evidence", "line"),
        [
            (
                Evidence(Source.C2PA, Declares.AI_GENERATED, "ChatGPT", "OpenAI", State.TRUSTED),
                "Content Credentials: made with an AI generator (signed by OpenAI)",
            ),
            (
                Evidence(Source.C2PA, Declares.AI_EDITED, None, "Lab", State.VALID),
                "Content Credentials: edited with AI (signed by Lab, not a recognised signer)",
            ),
            (
                Evidence(Source.C2PA, Declares.CAPTURED, "Cam", "Leica", State.TRUSTED),
                "Content Credentials: taken with a camera (signed by Leica)",
            ),
            (
                Evidence(Source.C2PA, Declares.UNKNOWN, "Editor", None, State.TRUSTED),
                "Content Credentials present",
            ),
            (
                Evidence(Source.C2PA, Declares.AI_GENERATED, state=State.INVALID),
                "Content Credentials present but tampered with",
            ),
            (
                Evidence(Source.C2PA, Declares.UNKNOWN, detail="too large"),
                "Content Credentials present but could not be checked",
            ),
            (
                Evidence(Source.XMP, Declares.AI_GENERATED, "Image Model 3"),
                "Metadata: marked as made with AI (Image Model 3)",
            ),
            (Evidence(Source.XMP, Declares.CAPTURED), "Metadata: marked as a camera photo"),
            (
                Evidence(Source.XMP, Declares.UNKNOWN, detail="IPTC digital source type x"),
                "Metadata: IPTC digital source type x",
            ),
            (
                Evidence(
                    Source.METADATA,
                    Declares.AI_GENERATED,
                    "Stable Diffusion",
                    detail="Stable Diffusion parameters found",
                ),
                "Metadata: Stable Diffusion parameters found",
            ),
        ],
    )
    def test_wording(self, evidence: Evidence, line: str) -> None:
        """Each kind of evidence in plain words, never claiming proof."""
        assert replies.provenance_line(ENGLISH, self._with(evidence)) == line

    def test_nothing_says_nothing(self) -> None:
        """No metadata: no line at all."""
        assert replies.provenance_line(ENGLISH, _judgement(0.4)) is None

    def test_the_declaration_behind_the_verdict_comes_first(self) -> None:
        """A tampered manifest and AI metadata: the line explains the FAKE verdict."""
        tampered = Evidence(Source.C2PA, Declares.UNKNOWN, state=State.INVALID)
        metadata = Evidence(
            Source.METADATA, Declares.AI_GENERATED, "NovelAI", detail="NovelAI found"
        )
        assert (
            replies.provenance_line(ENGLISH, self._with(tampered, metadata))
            == "Metadata: NovelAI found"
        )
        captured = Evidence(Source.XMP, Declares.CAPTURED)
        assert replies.provenance_line(ENGLISH, self._with(captured, tampered)) == (
            "Content Credentials present but tampered with"
        )

    def test_under_the_verdict_in_every_reply(self) -> None:
        """One image or several: the declaration is the line under its verdict."""
        signed = Evidence(Source.C2PA, Declares.AI_GENERATED, "Maker", "OpenAI", State.TRUSTED)
        line = "Content Credentials: made with an AI generator (signed by OpenAI)"
        declared = self._with(signed)
        assert replies.verdict_text(ENGLISH, declared, BANDS).splitlines() == [
            "🤖 Declared AI-generated by its own metadata (model: 10%)",
            line,
            replies.DISCLAIMER,
        ]
        lines = replies.outcomes_text(ENGLISH, [_judgement(0.2), declared], BANDS).splitlines()
        assert lines[1:3] == [
            "Image 2: 🤖 Declared AI-generated by its own metadata (model: 10%)",
            line,
        ]
        assert replies.verdict_text(ENGLISH, _judgement(0.1), BANDS).splitlines() == [
            "📷 Likely real (10% probability of AI)",
            replies.DISCLAIMER,
        ]

    def test_help_asks_for_originals(self) -> None:
        """/help tells users to send the original as a file to keep its Content Credentials."""
        assert "send the original as a file" in replies.HELP
        assert "Content Credentials" in replies.HELP


def _clip(fakes: list[float], media: Media = Media.VIDEO, step_s: float = 1.0) -> Judgement:
    frames = tuple(FrameScore(i * 3, i * step_s, p) for i, p in enumerate(fakes))
    clip = Clip(media, frames, duration_s=len(fakes) * step_s, frames_decoded=len(frames))
    top = max(fakes)
    return judge_scores(Scores(top, {"Real": 1 - top, "Fake": top}), 0.5, "0" * 64, clip=clip)


def test_clip_line_has_frames_and_the_most_suspicious_moment() -> None:
    """A clip's line: its band and percentage, how many frames, and where it looked worst."""
    judgement = _clip([0.2, 0.3, 0.74, 0.5, 0.1, 0.2, 0.3, 0.2])
    assert replies.verdict_line(ENGLISH, judgement, BANDS) == (
        "🤖 Likely AI-generated (74% probability of AI), 8 frames, most suspicious at 0:02"
    )
    assert replies.DISCLAIMER in replies.verdict_text(ENGLISH, judgement, BANDS)


def test_clip_moments_read_as_a_player_shows_them() -> None:
    """Past a minute the moment reads m:ss; a one-frame clip has no moment to point at."""
    late = _clip([0.1, 0.9], step_s=75.5)
    assert replies.verdict_line(ENGLISH, late, BANDS).endswith("2 frames, most suspicious at 1:15")
    single = _clip([0.1])
    assert replies.verdict_line(ENGLISH, single, BANDS).endswith(
        "(10% probability of AI), 1 frame"
    )


def test_albums_name_clips_by_what_they_are() -> None:
    """In a reply for several uploads, clips are numbered as animations or videos."""
    text = replies.outcomes_text(
        ENGLISH, [_judgement(0.1), _clip([0.9, 0.8], Media.ANIMATION), NoPicture()], BANDS
    )
    lines = text.splitlines()
    assert lines[0].startswith("Image 1: ")
    assert lines[1].startswith("Animation 2: ")
    assert "2 frames" in lines[1]
    assert lines[2] == "Image 3: ⚠️ I couldn't check this file: there is no picture in this file."


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (CorruptImage(), "⚠️ I couldn't check this image: the image is damaged or incomplete."),
        (NoPicture(), "⚠️ I couldn't check this file: there is no picture in this file."),
        (
            ClipTooLong("the clip is too long (2:00:00; limit 10:00)"),
            "⚠️ I couldn't check this file: the clip is too long (2:00:00; limit 10:00).",
        ),
        (
            DamagedClip(),
            "⚠️ I couldn't check this file: the clip is damaged: not one frame could be decoded.",
        ),
    ],
)
def test_clip_refusals_say_file(error: DeepGuardError, text: str) -> None:
    """A refused clip is "this file" (a sound file has no image in it); a photo stays "image"."""
    assert replies.error_text(ENGLISH, error) == text


def test_moderation_wording_names_a_clip() -> None:
    """A flagged clip is one upload, called by what it is in the warning and the mod-log."""
    judgement = _clip([0.9, 0.95])
    assert replies.noun(judgement) == "video"
    assert replies.noun(_judgement(0.9)) == "image"
    assert moderation_replies.warning_text(ENGLISH, 0.95, replies.noun(judgement)).startswith(
        "⚠️ This video looks AI-generated (95% probability of AI)."
    )
    notice = moderation_replies.flag_notice(ENGLISH, 7, "ann", "#general", 0.95, "", "animation")
    assert notice.startswith("🚩 Flag #7: an animation by ann in #general looks AI-generated")
    assert moderation_replies.flag_notice(ENGLISH, 8, "bob", "#x", 0.9, "").startswith(
        "🚩 Flag #8: an image by bob"
    )


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
    assert replies.models_line(ENGLISH, _ensemble(*fakes)) == line


def test_models_line_follows_the_threshold_and_needs_several_models() -> None:
    """The verdict's threshold decides leaning; one model gets no such line."""
    assert replies.models_line(ENGLISH, _ensemble(0.9, 0.6, 0.2, threshold=0.7)) == (
        "1 of 3 models leans AI-generated"
    )
    assert replies.models_line(ENGLISH, _judgement(0.9)) is None


def test_a_reply_from_several_models_says_how_they_split() -> None:
    """Under the verdict of an ensemble: how many of its models lean AI-generated."""
    two = Scores(0.8, {"Real": 0.2, "Fake": 0.8})
    one = Scores(0.3, {"Real": 0.7, "Fake": 0.3})
    scores = Scores(
        0.55,
        {"fake": 0.55, "real": 0.45},
        models=(ModelScores("a", two), ModelScores("b", two), ModelScores("c", one)),
    )
    text = replies.verdict_text(ENGLISH, judge_scores(scores, 0.5, "0" * 64), BANDS)
    assert text.splitlines()[1] == "2 of 3 models lean AI-generated"
    single = replies.verdict_text(ENGLISH, judge_scores(two, 0.5, "0" * 64), BANDS)
    assert "models" not in single
