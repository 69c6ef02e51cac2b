"""Export a hub classifier to ONNX once, and find it again by the hash of its weights.

An export of the base model takes ~20 s and its int8 quantization a few more, so both are
kept: in `onnx_cache_dir` when set, else beside the weights (a local model directory's
`onnx/` folder, or `deepguard-onnx/` in the hub cache). The folder name hashes the weights and
config files and the exporting library versions, so changed weights (or a new torch) make a
new export instead of serving a stale one. Files are written under a temporary name and renamed,
so a crash or a second process exporting at the same time never leaves half a model behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from config import ModelSettings
from core.errors import ModelError

log = logging.getLogger(__name__)

OPSET = 18
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def onnx_model(settings: ModelSettings, int8: bool, input_size: tuple[int, int]) -> Path:
    """The cached ONNX file for these weights, exported (and quantized) first if missing."""
    files = _model_files(settings)
    folder = _cache_root(settings, files[0].parent) / _cache_key(files)
    fp32 = folder / FP32_FILE
    if not fp32.exists():
        _export(settings, fp32, input_size)
    if not int8:
        return fp32
    quantized = folder / INT8_FILE
    if not quantized.exists():
        _quantize(fp32, quantized)
    return quantized


def _options(settings: ModelSettings) -> dict[str, Any]:
    return {
        "revision": settings.revision,
        "cache_dir": settings.cache_dir,
        "local_files_only": settings.offline,
    }


def _model_files(settings: ModelSettings) -> list[Path]:
    """config.json and every weights file, resolved as `from_pretrained` would find them."""
    from transformers.utils import cached_file

    def fetch(name: str) -> Path | None:
        found = cached_file(
            settings.name,
            name,
            _raise_exceptions_for_missing_entries=False,
            **_options(settings),
        )
        return Path(found) if found else None

    try:
        config = fetch("config.json")
        for index_name in _INDEXES:
            index = fetch(index_name)
            if index is not None:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
                weights = [fetch(shard) for shard in shards]
                break
        else:
            weights = [next((w for w in map(fetch, _WEIGHTS) if w is not None), None)]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot find the weights of {settings.name!r}: {exc}") from exc
    if config is None or not weights or any(w is None for w in weights):
        raise ModelError(f"cannot find config.json and weights for {settings.name!r}")
    return [config, *(w for w in weights if w is not None)]


def _cache_root(settings: ModelSettings, model_folder: Path) -> Path:
    if settings.onnx_cache_dir is not None:
        return settings.onnx_cache_dir
    if Path(settings.name).is_dir():
        return Path(settings.name) / "onnx"
    from huggingface_hub import constants

    hub = settings.cache_dir or Path(constants.HF_HUB_CACHE)
    return Path(hub) / "deepguard-onnx" / re.sub(r"[^A-Za-z0-9._-]+", "--", settings.name)


def _cache_key(files: list[Path]) -> str:
    """Hash of the files' contents and of the exporter's versions, 16 hex digits."""
    import transformers

    parts = [f"torch={torch.__version__}", f"transformers={transformers.__version__}"]
    parts += [f"opset={OPSET}", *(f"{path.name}={file_digest(path)}" for path in files)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def file_digest(path: Path) -> str:
    """SHA-256 of a file; a hub blob is named by its own SHA-256, so that one costs nothing."""
    target = path.resolve()
    if _SHA256.fullmatch(target.name) and target.parent.name == "blobs":
        return target.name
    with target.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _export(settings: ModelSettings, path: Path, input_size: tuple[int, int]) -> None:
    from transformers import AutoModelForImageClassification

    started = time.perf_counter()
    log.info("exporting %s to ONNX at %s (once; ~20 s for a base model)", settings.name, path)
    model = AutoModelForImageClassification.from_pretrained(settings.name, **_options(settings))
    width, height = input_size
    example = torch.zeros(2, 3, height, width)
    batch = torch.export.Dim("batch", min=1, max=1024)
    temporary = _temporary(path)
    try:
        with warnings.catch_warnings():
            # The exporter's own deprecation chatter; start-up only, before any serving thread.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Logits(model.float().eval()),
                (example,),
                str(temporary),
                input_names=["pixel_values"],
                output_names=["logits"],
                dynamic_shapes={"pixel_values": {0: batch}},
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        os.replace(temporary, path)
    except Exception as exc:
        raise ModelError(f"exporting {settings.name!r} to ONNX failed: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    log.info("exported in %.1f s (%.0f MB)", time.perf_counter() - started, _mb(path))


def _quantize(source: Path, path: Path) -> None:
    """Dynamic int8: per-channel weights at 7 bits, activations quantized per batch.

    The reduced range matters on CPUs without VNNI (AVX2): their u8*s8 multiply-add saturates
    at 16 bits, which moved the random base model's probabilities by ~0.03 at full range and
    ~0.005 at 7 bits (measured; see docs/benchmarks.md).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    temporary = _temporary(path)
    hush = _Hush("Please consider to run pre-processing")  # static quantization advice
    logging.getLogger().addFilter(hush)
    try:
        quantize_dynamic(
            source,
            temporary,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
        )
        os.replace(temporary, path)
    except Exception as exc:
        raise ModelError(f"quantizing {source} to int8 failed: {exc}") from exc
    finally:
        logging.getLogger().removeFilter(hush)
        temporary.unlink(missing_ok=True)
    log.info("quantized to int8 in %.1f s (%.0f MB)", time.perf_counter() - started, _mb(path))


def _temporary(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            f"cannot write the ONNX cache at {path.parent} ({exc.strerror}); "
            "set DEEPGUARD_MODEL__ONNX_CACHE_DIR to a writable folder"
        ) from exc
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _mb(path: Path) -> float:
    return path.stat().st_size / 2**20


class _Hush(logging.Filter):
    """Drops one library message that gives advice which does not apply here."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self._prefix)


class _Logits(torch.nn.Module):
    """The classifier with one tensor in and one out, the graph ONNX Runtime is given."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(pixel_values=pixel_values).logits
        return logits
