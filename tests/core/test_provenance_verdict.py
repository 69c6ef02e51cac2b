"""Evidence counts one way: a valid AI declaration makes the verdict FAKE; nothing makes it REAL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from config import ImageLimits, ProvenanceSettings, QueueSettings
from core.detector import Detector
from core.result import (
    Declares,
    Evidence,
    Scores,
    Source,
    State,
    Verdict,
    VerdictReason,
    judge_scores,
)
from tests.fakes import FakeClassifier
from tests.provenance_images import (
    A1111,
    AI,
    CAPTURE,
    Authority,
    Identity,
    issue,
    make_authority,
    manifest,
    picture,
    png_with_texts,
    reencode,
    sign,
)

AI_C2PA = Evidence(Source.C2PA, Declares.AI_GENERATED, "Gen", "Lab", State.VALID, "signed")
CAPTURED = Evidence(Source.C2PA, Declares.CAPTURED, "Camera", "Maker", State.TRUSTED, "signed")
TAMPERED = Evidence(Source.C2PA, Declares.AI_GENERATED, state=State.INVALID, detail="fails")
SD = Evidence(Source.METADATA, Declares.AI_GENERATED, "Stable Diffusion", detail="found")


def scores(fake: float) -> Scores:
    return Scores(fake, {"Real": 1 - fake, "Fake": fake})


class TestRule:
    @pytest.mark.parametrize("evidence", [AI_C2PA, SD])
    def test_declared_ai_is_fake(self, evidence: Evidence) -> None:
        """A low model probability, a valid AI declaration: FAKE, declared, probability kept."""
        judgement = judge_scores(scores(0.1), 0.5, "0" * 64, provenance=(evidence,))
        assert judgement.verdict is Verdict.FAKE
        assert judgement.verdict_reason is VerdictReason.DECLARED
        assert judgement.declared_ai
        assert judgement.fake_probability == 0.1

    def test_model_alone_when_off(self) -> None:
        """With declared_ai_is_fake off the model decides; the declaration is still reported."""
        judgement = judge_scores(
            scores(0.1), 0.5, "0" * 64, provenance=(AI_C2PA,), declared_ai_is_fake=False
        )
        assert (judgement.verdict, judgement.verdict_reason) == (Verdict.REAL, VerdictReason.MODEL)
        assert judgement.declared_ai
        assert judgement.provenance == (AI_C2PA,)

    @pytest.mark.parametrize("fake", [0.1, 0.9])
    def test_capture_changes_nothing(self, fake: float) -> None:
        """A camera-signed capture never lowers the probability nor changes the verdict."""
        plain = judge_scores(scores(fake), 0.5, "0" * 64)
        captured = judge_scores(scores(fake), 0.5, "0" * 64, provenance=(CAPTURED,))
        assert (captured.verdict, captured.fake_probability) == (plain.verdict, fake)
        assert captured.verdict_reason is VerdictReason.MODEL
        assert not captured.declared_ai

    def test_tampered_proves_nothing(self) -> None:
        """An invalid manifest declaring AI is not a declaration: the model decides."""
        judgement = judge_scores(scores(0.2), 0.5, "0" * 64, provenance=(TAMPERED,))
        assert (judgement.verdict, judgement.declared_ai) == (Verdict.REAL, False)

    def test_with_policy_switches_both_ways(self) -> None:
        """A chat's own choice re-decides a judgement made under the default."""
        judgement = judge_scores(scores(0.2), 0.5, "0" * 64, provenance=(SD,))
        model_only = judgement.with_policy(declared_ai_is_fake=False)
        assert model_only.verdict is Verdict.REAL
        assert model_only.with_policy(declared_ai_is_fake=True) == judgement

    def test_json_fields(self) -> None:
        """`as_dict` adds provenance, declared_ai and verdict_reason with the contract's names."""
        body = judge_scores(scores(0.2), 0.5, "0" * 64, provenance=(AI_C2PA,)).as_dict()
        assert body["provenance"] == [
            {
                "source": "c2pa",
                "declares": "ai-generated",
                "generator": "Gen",
                "signer": "Lab",
                "state": "valid",
                "detail": "signed",
            }
        ]
        assert (body["declared_ai"], body["verdict_reason"], body["verdict"]) == (
            True,
            "declared",
            "FAKE",
        )
        plain = judge_scores(scores(0.2), 0.5, "0" * 64).as_dict()
        assert (plain["provenance"], plain["declared_ai"], plain["verdict_reason"]) == (
            [],
            False,
            "model",
        )

    def test_strangers_text_is_tamed(self) -> None:
        """Names from a file lose control characters and line breaks, and are capped."""
        evidence = Evidence(
            Source.XMP,
            Declares.AI_GENERATED,
            generator="Evil\u202e\nGen\x00" + "x" * 500,
            signer="  ",
            detail="a\r\nb",
        )
        assert evidence.generator is not None
        assert evidence.generator.startswith("Evil Gen x")
        assert len(evidence.generator) == 80
        assert "\u202e" not in evidence.generator
        assert (evidence.signer, evidence.detail) == (None, "a b")


DetectorFactory = Callable[..., Awaitable[Detector]]


@pytest.fixture
async def make_detector() -> AsyncIterator[DetectorFactory]:
    async with contextlib.AsyncExitStack() as stack:

        async def make(provenance: ProvenanceSettings | None = None, **queue: Any) -> Detector:
            detector = Detector(
                FakeClassifier(),
                queue=QueueSettings(max_batch_size=4, max_wait_ms=1, **queue),
                limits=ImageLimits(),
                provenance=provenance,
            )
            return await stack.enter_async_context(detector)

        yield make


@pytest.fixture(scope="module")
def authority() -> Authority:
    return make_authority()


@pytest.fixture(scope="module")
def identity(authority: Authority) -> Identity:
    return issue(authority, "Example AI Lab")


class TestDetector:
    async def test_signed_ai_image(
        self,
        make_detector: DetectorFactory,
        identity: Identity,
        authority: Authority,
        tmp_path: Path,
    ) -> None:
        """The Detector reads the original bytes: trusted AI credentials make a low score FAKE."""
        anchors = authority.write(tmp_path / "anchors.pem")
        detector = await make_detector(ProvenanceSettings(trust_anchors=anchors))
        judgement = await detector.judge(sign(picture(red=25), identity, manifest(AI)))
        assert judgement.fake_probability < 0.2
        assert (judgement.verdict, judgement.verdict_reason) == (
            Verdict.FAKE,
            VerdictReason.DECLARED,
        )
        assert [(e.source, e.state) for e in judgement.provenance] == [
            (Source.C2PA, State.TRUSTED)
        ]

    async def test_cached_answer_keeps_provenance(self, make_detector: DetectorFactory) -> None:
        """The same bytes again come from the cache with their declarations and verdict."""
        detector = await make_detector()
        image = png_with_texts({"parameters": A1111})
        first = await detector.judge(image)
        again = await detector.judge(image)
        assert again.cached
        assert (again.provenance, again.verdict, again.verdict_reason) == (
            first.provenance,
            Verdict.FAKE,
            VerdictReason.DECLARED,
        )

    async def test_lookalike_has_its_own_provenance(
        self, make_detector: DetectorFactory, identity: Identity
    ) -> None:
        """A re-encoded copy shares the original's scores, not its lost credentials."""
        detector = await make_detector(near_duplicate_distance=8)
        signed = sign(picture(red=25, size=(96, 96)), identity, manifest(AI))
        original = await detector.judge(signed)
        copy = await detector.judge(reencode(signed))
        assert copy.cached
        assert original.declared_ai
        assert not copy.declared_ai
        assert copy.verdict is Verdict.REAL

    async def test_setting_off(self, make_detector: DetectorFactory) -> None:
        """DEEPGUARD_PROVENANCE__DECLARED_AI_IS_FAKE=false: the model alone decides."""
        detector = await make_detector(ProvenanceSettings(declared_ai_is_fake=False))
        judgement = await detector.judge(png_with_texts({"parameters": A1111}))
        assert (judgement.verdict, judgement.verdict_reason) == (Verdict.REAL, VerdictReason.MODEL)
        assert judgement.declared_ai

    async def test_capture_through_the_detector(
        self, make_detector: DetectorFactory, identity: Identity
    ) -> None:
        """A high score stays FAKE by the model even with a capture declaration."""
        detector = await make_detector()
        judgement = await detector.judge(sign(picture(red=240), identity, manifest(CAPTURE)))
        assert (judgement.verdict, judgement.verdict_reason) == (Verdict.FAKE, VerdictReason.MODEL)
        assert judgement.provenance[0].declares is Declares.CAPTURED
