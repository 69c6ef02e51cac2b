"""Every backend answers like the exact PyTorch path: fp32 within 1e-4, int8 within a measured bound."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from config import ImageLimits, ModelSettings, ProvenanceSettings, QueueSettings
from core.backends import intra_op_threads, load_classifier
from core.backends.cache import file_digest
from core.backends.cpu import CpuFeatures, cpu_features, int8_reduce_range
from core.backends.export import FP32_FILE, INT8_FILES
from core.backends.onnx import OnnxClassifier
from core.classifier import Classifier, HFClassifier
from core.detector import Detector
from core.errors import ModelError
from tests.tiny_model import FAMILIES, build_model_dir

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

# Measured on the tiny random model over the images below (median / max of |p - p_exact|):
# torch-int8 0.0009 / 0.006, onnx-int8 0.004 / 0.008 (AVX2 CPU). The bounds leave room for others.
INT8_MEDIAN_BOUND = 0.01
INT8_MAX_BOUND = 0.03
# torch-bf16 measured 0.0001 / 0.0006 on the same images (AVX-512-BF16 CPU); bf16 keeps 8 bits of
# mantissa, so its bound is the int8 one's: close, never exact.
BF16_MEDIAN_BOUND = 0.01
BF16_MAX_BOUND = 0.03
NO_VNNI = CpuFeatures(frozenset({"avx2", "fma"}))
VNNI = CpuFeatures(frozenset({"avx2", "avx512f", "avx512_vnni"}))
BF16 = CpuFeatures(frozenset({"avx2", "avx512f", "avx512_bf16"}))


def _images(count: int = 12) -> list[Image.Image]:
    """Gradients, shapes and noise of several sizes: content the model reacts to differently."""
    rng = np.random.default_rng(7)
    images = []
    for index in range(count):
        width, height = 40 + 13 * index, 90 - 3 * index
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255 / width, y * 255 / height, rng.uniform(0, 255) + 0 * x], -1)
        noisy = base + rng.normal(0, 10 + 10 * index, base.shape)
        images.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))
    return images


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def loaded(model_settings: ModelSettings, onnx_cache: Path) -> dict[str, Classifier]:
    """Each backend loaded once from the tiny model; the ONNX ones share one export."""
    return {
        backend: load_classifier(
            model_settings.model_copy(update={"backend": backend, "onnx_cache_dir": onnx_cache})
        )
        for backend in ("torch", "torch-int8", "onnx", "onnx-int8")
    }


def _fake_probabilities(classifier: Classifier, images: list[Image.Image]) -> np.ndarray:
    """One batch of all of them, so a dynamic batch dimension is exercised too."""
    scores = classifier.predict([classifier.prepare(image) for image in images])
    return np.array([s.fake_probability for s in scores])


def _deviation(loaded: dict[str, Classifier], backend: str) -> np.ndarray:
    images = _images()
    deviation: np.ndarray = np.abs(
        _fake_probabilities(loaded[backend], images) - _fake_probabilities(loaded["torch"], images)
    )
    return deviation


def test_exact_backend_is_the_hf_classifier(loaded: dict[str, Classifier]) -> None:
    """The default backend is the model card's PyTorch path, unchanged."""
    assert type(loaded["torch"]) is HFClassifier
    assert ModelSettings().backend == "torch"


def test_onnx_fp32_matches_torch(loaded: dict[str, Classifier]) -> None:
    """ONNX Runtime fp32 gives the exact path's fake probability within 1e-4 on every image."""
    assert _deviation(loaded, "onnx").max() <= 1e-4


@pytest.mark.parametrize("backend", ["torch-int8", "onnx-int8"])
def test_int8_deviation_is_bounded(loaded: dict[str, Classifier], backend: str) -> None:
    """Dynamic int8 moves fake probabilities by a bounded amount (median and max)."""
    deviation = _deviation(loaded, backend)
    assert deviation.max() > 0, "int8 should not be bit-identical; is it quantized at all?"
    assert np.median(deviation) <= INT8_MEDIAN_BOUND
    assert deviation.max() <= INT8_MAX_BOUND


@pytest.mark.parametrize("backend", ["torch", "torch-int8", "onnx", "onnx-int8"])
def test_single_image_batches_work(loaded: dict[str, Classifier], backend: str) -> None:
    """An image gets the same answer alone (the export used two) as inside a larger batch."""
    images = _images(3)
    together = _fake_probabilities(loaded[backend], images)
    alone = [_fake_probabilities(loaded[backend], [image])[0] for image in images]
    np.testing.assert_allclose(alone, together, atol=1e-5)


def test_onnx_backends_keep_labels_and_input_size(loaded: dict[str, Classifier]) -> None:
    """The ONNX classifier reads labels and input size from the same config as PyTorch."""
    exact, onnx = loaded["torch"], loaded["onnx"]
    assert getattr(onnx, "labels") == getattr(exact, "labels")  # noqa: B009 (not on the protocol)
    assert getattr(onnx, "input_size") == getattr(exact, "input_size") == (32, 32)  # noqa: B009


@pytest.mark.parametrize("family", ["vit", "convnext", "swin"])
def test_onnx_runs_other_families(tmp_path: Path, family: str) -> None:
    """ViT, ConvNeXt (centre crop, no fast path) and Swin (exported with eager attention, its
    fused one does not export) answer like PyTorch within 1e-4."""
    folder = FAMILIES[family](tmp_path / family)
    settings = ModelSettings(
        name=str(folder), offline=True, threads=1, onnx_cache_dir=tmp_path / "onnx"
    )
    exact = _fake_probabilities(HFClassifier.load(settings), _images())
    onnx = load_classifier(settings.model_copy(update={"backend": "onnx"}))
    assert np.abs(_fake_probabilities(onnx, _images()) - exact).max() <= 1e-4


def test_onnx_refuses_naflex_at_start_up(tmp_path: Path) -> None:
    """A processor that makes more than pixel_values cannot feed the exported graph: refused
    before any export, naming the backend that runs it."""
    folder = FAMILIES["siglip2-naflex"](tmp_path / "naflex")
    settings = ModelSettings(
        name=str(folder), offline=True, threads=1, backend="onnx", onnx_cache_dir=tmp_path / "x"
    )
    with pytest.raises(ModelError, match="pixel_attention_mask, spatial_shapes") as refused:
        load_classifier(settings)
    assert "DEEPGUARD_MODEL__BACKEND=torch" in str(refused.value)
    assert not (tmp_path / "x").exists()


def test_export_is_cached_and_reused(onnx_cache: Path, model_settings: ModelSettings) -> None:
    """A second load reuses the exported files instead of exporting again."""
    settings = model_settings.model_copy(
        update={"backend": "onnx-int8", "onnx_cache_dir": onnx_cache}
    )
    load_classifier(settings)
    files = sorted(onnx_cache.rglob("*.onnx"))
    int8_file = INT8_FILES[int8_reduce_range(cpu_features())]
    assert [f.name for f in files] == sorted([FP32_FILE, int8_file])
    stamps = [f.stat().st_mtime_ns for f in files]
    load_classifier(settings)
    assert [f.stat().st_mtime_ns for f in sorted(onnx_cache.rglob("*.onnx"))] == stamps


async def test_changed_weights_are_exported_again_off_the_event_loop(
    tmp_path: Path, model_dir: Path, onnx_cache: Path, loaded: dict[str, Classifier]
) -> None:
    """The cache beside the weights is keyed by their contents; new weights export anew,
    in a thread, while the event loop keeps serving other tasks."""
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder, ignore=shutil.ignore_patterns("onnx"))
    shutil.copytree(onnx_cache, folder / "onnx")  # the same weights' export, made elsewhere
    settings = ModelSettings(name=str(folder), offline=True, threads=1, backend="onnx")
    before = _fake_probabilities(load_classifier(settings), _images(2))
    assert len(list((folder / "onnx").glob(f"*/{FP32_FILE}"))) == 1  # reused, not re-exported

    build_model_dir(folder, seed=1)  # same config, different weights
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(tick())
    try:
        async with Detector.open(
            settings, QueueSettings(), ImageLimits(), ProvenanceSettings()
        ) as detector:
            exported_meanwhile = ticks
            png = tmp_path / "a.png"
            _images(1)[0].save(png)
            judgement = await detector.judge(png.read_bytes())
    finally:
        ticker.cancel()
    assert exported_meanwhile >= 3
    assert len(list((folder / "onnx").glob(f"*/{FP32_FILE}"))) == 2
    after = _fake_probabilities(load_classifier(settings), _images(2))
    exact = _fake_probabilities(HFClassifier.load(settings), _images(2))
    np.testing.assert_allclose(after, exact, atol=1e-4)
    assert np.abs(after - before).max() > 1e-3
    assert judgement.fake_probability == pytest.approx(after[0], abs=1e-6)


def test_unwritable_cache_is_a_clear_model_error(tmp_path: Path, model_dir: Path) -> None:
    """A cache folder that cannot be made names the setting to change."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings = ModelSettings(
        name=str(model_dir), offline=True, threads=1, backend="onnx", onnx_cache_dir=blocker / "x"
    )
    with pytest.raises(ModelError, match="ONNX_CACHE_DIR"):
        load_classifier(settings)


def test_hub_blobs_are_keyed_by_their_name(tmp_path: Path) -> None:
    """A hub cache blob is named by its SHA-256, so the key needs no read of 400 MB."""
    blob = tmp_path / "blobs" / ("ab" * 32)
    blob.parent.mkdir()
    blob.write_bytes(b"weights")
    link = tmp_path / "snapshots" / "model.safetensors"
    link.parent.mkdir()
    link.symlink_to(blob)
    assert file_digest(link) == "ab" * 32
    local = tmp_path / "local.safetensors"
    local.write_bytes(b"weights")
    assert file_digest(local) == hashlib.sha256(b"weights").hexdigest()


def test_half_precision_is_ignored_on_cpu(
    model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """float16 applies on CUDA only: on the CPU the model stays float32, with a warning."""
    settings = ModelSettings(
        name=str(model_dir), offline=True, device="cpu", threads=1, dtype="float16"
    )
    with caplog.at_level(logging.WARNING):
        classifier = HFClassifier.load(settings)
    assert "CUDA only" in caplog.text
    scores = classifier.predict([classifier.prepare(_images(1)[0])])
    assert 0.0 <= scores[0].fake_probability <= 1.0


def test_threads_default_to_usable_cores() -> None:
    """Unset threads mean every core this process may run on, not every core the host has."""
    assert intra_op_threads(ModelSettings()) == len(os.sched_getaffinity(0))
    assert intra_op_threads(ModelSettings(threads=3)) == 3


def test_int8_range_follows_the_cpu_and_a_cache_from_another_cpu_is_quantized_again(
    tmp_path: Path, model_settings: ModelSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """7-bit weights without VNNI, full range with it; each range has its own cached file."""
    settings = model_settings.model_copy(
        update={"backend": "onnx-int8", "onnx_cache_dir": tmp_path}
    )
    with caplog.at_level(logging.INFO, logger="core.backends"):
        OnnxClassifier.load(settings, cpu=VNNI)
    assert sorted(f.name for f in tmp_path.rglob("*.onnx")) == sorted(
        [FP32_FILE, INT8_FILES[False]]
    )
    assert "CPU features: avx2, avx512f, avx512_vnni; int8 weights at full range" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="core.backends"):
        without_vnni = OnnxClassifier.load(settings, cpu=NO_VNNI)
    assert sorted(f.name for f in tmp_path.rglob("*.onnx")) == sorted(
        [FP32_FILE, INT8_FILES[False], INT8_FILES[True]]
    )
    assert "int8 weights at 7-bit range" in caplog.text
    assert "quantized to int8 (7-bit range)" in caplog.text
    scores = without_vnni.predict([without_vnni.prepare(image) for image in _images(2)])
    assert all(0.0 <= s.fake_probability <= 1.0 for s in scores)


def test_torch_bf16_is_refused_on_a_cpu_without_native_bf16(
    model_settings: ModelSettings,
) -> None:
    """Emulated bf16 is several times slower than float32: refused, naming better backends."""
    settings = model_settings.model_copy(update={"backend": "torch-bf16", "device": "cpu"})
    with pytest.raises(ModelError) as refused:
        HFClassifier.load(settings, cpu=NO_VNNI)
    message = str(refused.value)
    assert "native bf16" in message
    assert "DEEPGUARD_MODEL__BACKEND=onnx-int8" in message
    assert "torch (exact)" in message


def test_torch_bf16_stays_within_its_measured_deviation(
    model_settings: ModelSettings, loaded: dict[str, Classifier]
) -> None:
    """bf16 weights move fake probabilities by a bounded amount against the exact path."""
    settings = model_settings.model_copy(update={"backend": "torch-bf16", "device": "cpu"})
    bf16 = HFClassifier.load(settings, cpu=BF16)
    images = _images()
    deviation = np.abs(
        _fake_probabilities(bf16, images) - _fake_probabilities(loaded["torch"], images)
    )
    assert deviation.max() > 0, "bf16 should not be bit-identical; are the weights bf16 at all?"
    assert np.median(deviation) <= BF16_MEDIAN_BOUND
    assert deviation.max() <= BF16_MAX_BOUND


def test_the_torch_bf16_backend_loads_where_this_cpu_allows_it(
    model_settings: ModelSettings,
) -> None:
    """Through the path users take: loaded on a CPU with native bf16, refused on others."""
    settings = model_settings.model_copy(update={"backend": "torch-bf16", "device": "cpu"})
    if cpu_features().native_bf16:
        classifier = load_classifier(settings)
        assert classifier.predict([classifier.prepare(_images(1)[0])])[0].fake_probability >= 0
    else:
        with pytest.raises(ModelError, match="native bf16"):
            load_classifier(settings)
