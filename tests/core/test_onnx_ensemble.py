"""Two models of different families judge together on the ONNX backends, loaded as users load
them: DEEPGUARD_* variables -> settings -> `Detector.open` -> `judge`.

Each model's answer is checked against the same model judged alone on the exact torch path
(through a one-model Detector, so decoding and clip sampling are the same): within 1e-4 on
`onnx`, within the measured int8 bound on `onnx-int8` (`tests.core.test_backends`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from config import ImageLimits, ModelSettings, ProvenanceSettings, QueueSettings, load_settings
from core.backends.cache import cache_folder
from core.backends.cpu import cpu_features, int8_reduce_range
from core.backends.export import FP32_FILE, GRAPH, INT8_FILES, OPSET
from core.detector import Detector
from core.result import Judgement
from tests.core.test_backends import INT8_MAX_BOUND
from tests.sample_clips import LOSSLESS_MKV, noise_frames, video_bytes
from tests.sample_images import image_bytes
from tests.tiny_model import FAMILIES

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

QUEUE = QueueSettings(max_batch_size=4, max_wait_ms=5)
WEIGHTS = (2.0, 1.0)
BOUNDS = {"onnx": 1e-4, "onnx-int8": INT8_MAX_BOUND}
BACKENDS = list(BOUNDS)
IMAGES = [image_bytes(seed, fmt) for seed, fmt in ((1, "PNG"), (2, "JPEG"), (3, "WEBP"))]


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A SigLIP (linear head on pooled tokens) and a ViT (CLS token): different graphs."""
    root = tmp_path_factory.mktemp("onnx-ensemble")
    return FAMILIES["siglip"](root / "siglip", seed=3), FAMILIES["vit"](root / "vit", seed=4)


@pytest.fixture(scope="session")
def ensemble_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export cache for the session: each model is exported (and quantized) once."""
    return tmp_path_factory.mktemp("onnx-ensemble-cache")


def _settings(
    monkeypatch: pytest.MonkeyPatch, pair: tuple[Path, Path], backend: str, cache: Path
) -> ModelSettings:
    """The model settings as `deepguard run` reads them from its environment."""
    variables = {
        "NAME": ",".join(map(str, pair)),
        "WEIGHTS": ",".join(map(str, WEIGHTS)),
        "BACKEND": backend,
        "ONNX_CACHE_DIR": str(cache),
        "OFFLINE": "true",
        "DEVICE": "cpu",
        "THREADS": "1",
    }
    for key, value in variables.items():
        monkeypatch.setenv(f"DEEPGUARD_MODEL__{key}", value)
    return load_settings(None).model


async def _judge(settings: ModelSettings, samples: list[bytes]) -> list[Judgement]:
    async with Detector.open(settings, QUEUE, ImageLimits(), ProvenanceSettings()) as detector:
        return list(await asyncio.gather(*(detector.judge(data) for data in samples)))


async def _alone_on_torch(settings: ModelSettings, samples: list[bytes]) -> list[np.ndarray]:
    """Per model, its fake probability of each sample (a clip: of each frame, then the clip's)."""
    answers = []
    for name in settings.names:
        exact = settings.only(name).model_copy(update={"backend": "torch"})
        judgements = await _judge(exact, samples)
        assert all(not j.models for j in judgements)  # one model: its own answer, untouched
        answers.append(np.array([_probabilities(j) for j in judgements]))
    return answers


def _probabilities(judgement: Judgement) -> list[float]:
    """A still image's fake probability; a clip's frames' and then the clip's."""
    frames = [] if judgement.clip is None else judgement.clip.frames
    return [frame.fake_probability for frame in frames] + [judgement.fake_probability]


def _exports(cache: Path) -> dict[Path, int]:
    """Every exported graph in the cache and when it was written."""
    return {path: path.stat().st_mtime_ns for path in cache.rglob("*.onnx")}


def _members(judgement: Judgement) -> np.ndarray:
    return np.array([m.scores.fake_probability for m in judgement.models])


@pytest.mark.parametrize("backend", BACKENDS)
async def test_images_are_judged_by_both_models(
    monkeypatch: pytest.MonkeyPatch,
    pair: tuple[Path, Path],
    ensemble_cache: Path,
    backend: str,
) -> None:
    """`models` names both models with their own probabilities, each the model's own answer
    alone on torch (within the backend's bound); the image's is their weighted mean."""
    settings = _settings(monkeypatch, pair, backend, ensemble_cache)
    judgements = await _judge(settings, IMAGES)
    siglip, vit = await _alone_on_torch(settings, IMAGES)
    # The two models disagree by more than twice the bound: a swapped or copied answer shows.
    assert np.abs(siglip - vit).min() > 2 * BOUNDS[backend]
    for index, judgement in enumerate(judgements):
        assert [m.name for m in judgement.models] == [str(folder) for folder in pair]
        members = _members(judgement)
        assert np.abs(members - [siglip[index, 0], vit[index, 0]]).max() <= BOUNDS[backend]
        mean = np.dot(WEIGHTS, members) / sum(WEIGHTS)
        assert judgement.fake_probability == pytest.approx(mean, abs=1e-9)
        assert dict(judgement.scores.classes) == pytest.approx({"fake": mean, "real": 1 - mean})
        assert judgement.verdict.value == ("FAKE" if mean >= settings.threshold else "REAL")
        listed = judgement.as_dict()["models"]
        assert isinstance(listed, list)
        assert [m["name"] for m in listed] == [str(folder) for folder in pair]
        assert [m["fake_probability"] for m in listed] == pytest.approx(members, abs=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_clips_frames_go_through_both_lanes(
    monkeypatch: pytest.MonkeyPatch,
    pair: tuple[Path, Path],
    ensemble_cache: Path,
    backend: str,
) -> None:
    """Each sampled frame is the weighted mean of both models' answers on it; each model's
    clip score is its own most suspicious quarter, as when it judges the clip alone."""
    settings = _settings(monkeypatch, pair, backend, ensemble_cache)
    clip = video_bytes(noise_frames(6, side=40, seed=11), LOSSLESS_MKV)
    (judgement,) = await _judge(settings, [clip])
    (siglip,), (vit,) = await _alone_on_torch(settings, [clip])
    assert judgement.clip is not None
    frames = np.array([frame.fake_probability for frame in judgement.clip.frames])
    assert len(frames) == len(siglip) - 1 == 6
    expected = (WEIGHTS[0] * siglip[:-1] + WEIGHTS[1] * vit[:-1]) / sum(WEIGHTS)
    # The weighted mean is far from either model alone on some frame, so frames that only one
    # lane judged would show; and the models' clip scores are far apart, so would a swap.
    for alone in (siglip, vit):
        assert np.abs(expected - alone[:-1]).max() > 2 * BOUNDS[backend]
    assert abs(siglip[-1] - vit[-1]) > 2 * BOUNDS[backend]
    assert np.abs(frames - expected).max() <= BOUNDS[backend]
    assert [m.name for m in judgement.models] == [str(folder) for folder in pair]
    assert np.abs(_members(judgement) - [siglip[-1], vit[-1]]).max() <= BOUNDS[backend]
    top = np.sort(frames)[::-1][: int(np.ceil(len(frames) / 4))]
    assert judgement.fake_probability == pytest.approx(top.mean(), abs=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_cache_holds_one_export_per_model(
    monkeypatch: pytest.MonkeyPatch,
    pair: tuple[Path, Path],
    tmp_path: Path,
    backend: str,
) -> None:
    """Each model is exported into its own folder of the shared cache, once: a second start
    of the ensemble reuses both exports."""
    settings = _settings(monkeypatch, pair, backend, tmp_path)
    first = await _judge(settings, IMAGES[:1])
    size = (32, 32)  # both tiny models' input
    folders = {cache_folder(settings.only(n), size, OPSET, GRAPH) for n in settings.names}
    assert len(folders) == 2
    wanted = {FP32_FILE}
    if backend == "onnx-int8":
        wanted.add(INT8_FILES[int8_reduce_range(cpu_features())])
    exports = _exports(tmp_path)
    assert {f.parent for f in exports} == folders
    assert sorted(f.name for f in exports) == sorted([*wanted, *wanted])
    again = await _judge(settings, IMAGES[:1])
    assert _exports(tmp_path) == exports  # the same files, not written again
    assert _members(again[0]) == pytest.approx(_members(first[0]), abs=1e-9)


async def test_the_same_weights_at_two_input_sizes_are_two_exports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A convolutional model runs at any size, so the same ConvNeXt weights may be served at two
    (here both in one ensemble, sharing the cache): the graph is exported at its processor's
    size, so each size has its own export instead of one model refused the other's graph."""
    small = FAMILIES["convnext"](tmp_path / "small", seed=6)
    large = tmp_path / "large"
    shutil.copytree(small, large)
    processor = large / "preprocessor_config.json"
    config = json.loads(processor.read_text())
    config["size"] = {"shortest_edge": 48}
    processor.write_text(json.dumps(config))
    settings = _settings(monkeypatch, (small, large), "onnx", tmp_path / "cache")
    (judgement,) = await _judge(settings, IMAGES[:1])
    alone = await _alone_on_torch(settings, IMAGES[:1])
    assert np.abs(_members(judgement) - [each[0, 0] for each in alone]).max() <= BOUNDS["onnx"]
    assert len(_exports(tmp_path / "cache")) == 2
