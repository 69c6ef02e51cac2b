"""Several models judge together: a batcher and thread each, one decode, the weighted mean."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from config import (
    ImageLimits,
    ModelSettings,
    ProvenanceSettings,
    QueueSettings,
    Settings,
    SettingsError,
    load_settings,
)
from core.backends import load_classifier
from core.detector import Detector
from core.ensemble import Member, combine, load_members
from core.errors import ModelError, Overloaded, ShuttingDown
from core.result import Scores
from tests.core.test_detector import answered, live_tasks, spawn, until
from tests.core.test_parity import _Card, _files
from tests.fakes import FakeClassifier, Gate, no_unhandled_loop_errors, png_bytes
from tests.sample_clips import animation_bytes, red_frames
from tests.tiny_model import FAMILIES

QUEUE = QueueSettings(max_batch_size=4, max_wait_ms=5)


@pytest.fixture(autouse=True)
async def _no_lost_errors() -> AsyncIterator[None]:
    """Every test here also fails on task exceptions that nobody retrieved."""
    async with no_unhandled_loop_errors():
        yield


def _halved(red: int) -> float:
    return red / 510


def _members(*models: FakeClassifier, weights: Sequence[float] = ()) -> list[Member]:
    weights = weights or [1.0] * len(models)
    return [
        Member(f"model-{index}", model, weight)
        for index, (model, weight) in enumerate(zip(models, weights, strict=True))
    ]


class TestCombine:
    def test_weighted_mean(self) -> None:
        """The fake probability is the weighted mean; each model's scores are kept in order."""
        a = Scores(0.9, {"Real": 0.1, "Fake": 0.9})
        b = Scores(0.3, {"AI": 0.2, "Deepfake": 0.1, "Real": 0.7})
        members = [Member("a", FakeClassifier(), 3.0), Member("b", FakeClassifier(), 1.0)]
        combined = combine(members, [a, b])
        assert combined.fake_probability == pytest.approx((3 * 0.9 + 0.3) / 4)
        assert dict(combined.classes) == pytest.approx({"fake": 0.75, "real": 0.25})
        assert [(m.name, m.scores) for m in combined.models] == [("a", a), ("b", b)]

    def test_zero_weight_counts_for_nothing(self) -> None:
        """A model weighted 0 is still reported but does not move the probability."""
        members = [Member("a", FakeClassifier(), 1.0), Member("b", FakeClassifier(), 0.0)]
        combined = combine(members, [Scores(0.2, {}), Scores(1.0, {})])
        assert combined.fake_probability == pytest.approx(0.2)
        assert len(combined.models) == 2


class TestEnsembleDetector:
    async def test_weighted_mean_and_verdict(self) -> None:
        """Each image gets every model's scores, their weighted mean, and the threshold's verdict."""
        first, second = FakeClassifier(), FakeClassifier(_halved)
        members = _members(first, second, weights=[1.0, 3.0])
        async with Detector(members, queue=QUEUE, limits=ImageLimits(), threshold=0.4) as d:
            high, low = await answered(spawn(d, png_bytes(255)), spawn(d, png_bytes(102)))
        assert high.fake_probability == pytest.approx((1.0 + 3 * 0.5) / 4)
        assert high.verdict.value == "FAKE"
        assert low.fake_probability == pytest.approx((0.4 + 3 * 0.2) / 4)
        assert low.verdict.value == "REAL"
        assert [m.name for m in high.models] == ["model-0", "model-1"]
        assert [m.scores.fake_probability for m in high.models] == pytest.approx([1.0, 0.5])
        assert dict(high.models[1].scores.classes) == pytest.approx({"Real": 0.5, "Fake": 0.5})

    async def test_a_clips_frames_go_through_every_lane(self) -> None:
        """Each frame is one input per model, combined as a still image; each model's clip score
        is its own most suspicious quarter of frames."""
        data = animation_bytes(red_frames([51, 255, 102, 153], distinct=True), "WEBP", 250)
        members = _members(FakeClassifier(), FakeClassifier(_halved))
        async with Detector(members, queue=QUEUE, limits=ImageLimits()) as d:
            judgement = await d.judge(data)
        assert judgement.clip is not None
        frames = [frame.fake_probability for frame in judgement.clip.frames]
        assert frames == pytest.approx([0.15, 0.75, 0.3, 0.45], abs=0.01)
        assert judgement.fake_probability == pytest.approx(0.75)  # the top quarter: one frame
        assert [m.name for m in judgement.models] == ["model-0", "model-1"]
        assert [m.scores.fake_probability for m in judgement.models] == pytest.approx([1.0, 0.5])
        listed = judgement.as_dict()["models"]
        assert isinstance(listed, list)
        assert [m["name"] for m in listed] == ["model-0", "model-1"]

    async def test_json_adds_models_only_for_several(self) -> None:
        """`as_dict` (check --json, the API) adds `models` with several models, not with one."""
        async with Detector(
            _members(FakeClassifier(), FakeClassifier(_halved)), queue=QUEUE, limits=ImageLimits()
        ) as several:
            fields = (await several.judge(png_bytes(204))).as_dict()
        assert fields["models"] == [
            {"name": "model-0", "fake_probability": 0.8, "classes": {"Real": 0.2, "Fake": 0.8}},
            {"name": "model-1", "fake_probability": 0.4, "classes": {"Real": 0.6, "Fake": 0.4}},
        ]
        assert fields["fake_probability"] == pytest.approx(0.6)
        assert fields["classes"] == {"fake": 0.6, "real": 0.4}
        async with Detector(FakeClassifier(), queue=QUEUE, limits=ImageLimits()) as one:
            single = (await one.judge(png_bytes(204))).as_dict()
        assert "models" not in single
        assert single["classes"] == {"Real": 0.2, "Fake": 0.8}

    async def test_each_model_has_its_own_thread_and_batcher(self) -> None:
        """A model held in its thread does not hold the other: they run side by side."""
        slow, fast = FakeClassifier(gate=Gate(opened=False)), FakeClassifier()
        async with Detector(_members(slow, fast), queue=QUEUE, limits=ImageLimits()) as d:
            tasks = [spawn(d, png_bytes(red)) for red in (10, 20, 30)]
            await slow.gate.arrived()  # the slow model is inside its first batch
            await until(lambda: fast.images_seen == 3)  # the fast one answered all three
            assert not any(task.done() for task in tasks)  # an image needs every model
            assert d.depth >= 1
            slow.gate.open()
            judgements = await answered(*tasks)
        assert [j.fake_probability for j in judgements] == pytest.approx(
            [10 / 255, 20 / 255, 30 / 255]
        )
        assert slow.predict_threads[0] != fast.predict_threads[0]
        assert {t.rsplit("_", 1)[0] for t in slow.predict_threads + fast.predict_threads} == {
            "deepguard-model",
            "deepguard-model-1",
        }
        assert slow.images_seen == 3

    async def test_every_model_prepares_each_image_once(self) -> None:
        """The image is decoded once and prepared once per model, in the decode threads."""
        first, second = FakeClassifier(), FakeClassifier()
        async with Detector(_members(first, second), queue=QUEUE, limits=ImageLimits()) as d:
            await d.judge(png_bytes(1))
            await d.judge(png_bytes(1))  # the cache answers a repeat: no model prepares it
        assert len(first.prepare_threads) == len(second.prepare_threads) == 1
        assert first.prepare_threads[0].startswith("deepguard-decode")

    async def test_one_failing_model_fails_the_image_only(self) -> None:
        """A model error fails that image with ModelError; the next image is judged."""
        broken, fine = FakeClassifier(), FakeClassifier()
        broken.fail_next(RuntimeError("0xdeadbeef"))
        async with Detector(_members(fine, broken), queue=QUEUE, limits=ImageLimits()) as d:
            with pytest.raises(ModelError):
                await d.judge(png_bytes(5))
            later = await d.judge(png_bytes(6))
        assert later.fake_probability == pytest.approx(6 / 255)
        assert d.counters.errors == 1

    async def test_a_full_lane_refuses_the_image(self) -> None:
        """When one model's queue is full the image is refused at once with Overloaded."""
        held = FakeClassifier(gate=Gate(opened=False))
        queue = QueueSettings(max_batch_size=1, max_wait_ms=0, max_pending=1)
        async with Detector(
            _members(FakeClassifier(), held), queue=queue, limits=ImageLimits()
        ) as d:
            first = spawn(d, png_bytes(1))
            await held.gate.arrived()  # in the model
            second = spawn(d, png_bytes(2))  # queued: the lane is now full
            await until(lambda: d.depth >= 2)
            with pytest.raises(Overloaded):
                await d.judge(png_bytes(3))
            held.gate.open()
            await answered(first, second)

    async def test_close_answers_or_fails_every_lane(self) -> None:
        """Closing past the drain bound fails what a held lane still has; no task is left."""
        held = FakeClassifier(gate=Gate(opened=False))
        queue = QueueSettings(max_batch_size=1, max_wait_ms=0, drain_timeout_s=0.05)
        detector = Detector(_members(FakeClassifier(), held), queue=queue, limits=ImageLimits())
        async with detector:
            tasks = [spawn(detector, png_bytes(red)) for red in (1, 2)]
            await held.gate.arrived()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        held.gate.open()
        assert [type(o) for o in outcomes] == [ShuttingDown, ShuttingDown]
        assert live_tasks() == []


class TestModelSettings:
    def test_names_and_weights_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """NAME lists models, comma-separated; WEIGHTS gives one number each (default equal)."""
        monkeypatch.setenv("DEEPGUARD_MODEL__NAME", "org/a, ./local-b ,org/c")
        settings = Settings(_env_file=None)
        assert settings.model.names == ("org/a", "./local-b", "org/c")
        assert settings.model.model_weights == (1.0, 1.0, 1.0)
        monkeypatch.setenv("DEEPGUARD_MODEL__WEIGHTS", "2, 1,0.5")
        assert Settings(_env_file=None).model.model_weights == (2.0, 1.0, 0.5)
        assert Settings(_env_file=None).model.only("org/c").names == ("org/c",)

    @pytest.mark.parametrize(
        ("name", "weights", "problem"),
        [
            ("a,b", "1", r"one weight per model in the name \(2\), not 1"),
            ("a,b", "1,x", "valid number"),
            ("a,b", "0,0", "not all zero"),
            ("a,b", "-1,2", "zero or more"),
            ("a,a", None, "named twice"),
            (" , ", None, "at least one model"),
        ],
    )
    def test_bad_lists_name_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, name: str, weights: str | None, problem: str
    ) -> None:
        """A mismatched or malformed list is refused by variable name before anything loads."""
        monkeypatch.setenv("DEEPGUARD_MODEL__NAME", name)
        if weights is not None:
            monkeypatch.setenv("DEEPGUARD_MODEL__WEIGHTS", weights)
        with pytest.raises(SettingsError, match=problem) as refused:
            load_settings(None)
        assert ("DEEPGUARD_MODEL__WEIGHTS" if weights else "DEEPGUARD_MODEL__NAME") in str(
            refused.value
        )
        assert "__0" not in str(refused.value)

    def test_weights_field_type(self) -> None:
        """Built in code, weights are a tuple of floats, checked against the names."""
        assert ModelSettings(name="a,b", weights=(1, 2)).weights == (1.0, 2.0)
        with pytest.raises(ValueError, match="one weight per model"):
            ModelSettings(name="a", weights=(1, 2))


async def test_real_models_of_three_families(tmp_path: Path) -> None:
    """SigLIP, NaFlex and ConvNeXt together: each model's classes equal its own card code, each
    preprocessed by its own processor, and the fake probability is their weighted mean."""
    folders = [FAMILIES[f](tmp_path / f, seed=5) for f in ("siglip", "siglip2-naflex", "convnext")]
    settings = ModelSettings(
        name=",".join(map(str, folders)), weights=(2, 1, 1), offline=True, device="cpu", threads=1
    )
    files = _files(tmp_path)
    async with Detector.open(settings, QUEUE, ImageLimits(), ProvenanceSettings()) as detector:
        judgements = await asyncio.gather(*(detector.judge(p.read_bytes()) for p in files))
    cards = [_Card(folder) for folder in folders]
    for path, judgement in zip(files, judgements, strict=True):
        assert [m.name for m in judgement.models] == [str(f) for f in folders]
        for card, model in zip(cards, judgement.models, strict=True):
            assert dict(model.scores.classes) == pytest.approx(card.classes(path), abs=1e-5)
        each = [card.fake_probability(path) for card in cards]
        expected = (2 * each[0] + each[1] + each[2]) / 4
        assert judgement.fake_probability == pytest.approx(expected, abs=1e-5), path.name


def test_models_share_the_cores(model_dir: Path, tmp_path: Path) -> None:
    """With threads unset, two models get half the usable cores each (at least one)."""
    other = FAMILIES["vit"](tmp_path / "vit")
    settings = ModelSettings(name=f"{model_dir},{other}", offline=True, device="cpu")
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        members = load_members(settings)
        assert torch.get_num_threads() == max(1, len(os.sched_getaffinity(0)) // 2)
    finally:
        torch.set_num_threads(before)
    assert [m.name for m in members] == [str(model_dir), str(other)]
    image = Image.fromarray(np.full((20, 30, 3), 128, np.uint8))
    assert all(m.classifier.predict([m.classifier.prepare(image)]) for m in members)


def test_single_model_loaders_refuse_a_list(model_dir: Path) -> None:
    """`load_classifier` (one model, e.g. a Ray replica's) says so instead of loading half."""
    settings = ModelSettings(name=f"{model_dir},{model_dir}-b", offline=True, threads=1)
    with pytest.raises(ModelError, match="DEEPGUARD_MODEL__NAME names 2 models"):
        load_classifier(settings)
