"""Export a hub classifier to ONNX once (and quantize it to int8), into the weights' cache folder.

An export of the base model takes ~20 s and its int8 quantization a few more, so both are kept
in the folder `core.backends.cache` names after the weights. Files are written under a
temporary name and renamed, so a crash or a second process exporting at the same time never
leaves half a model behind.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from config import ModelSettings
from core.backends.cache import cache_folder, hub_options
from core.errors import ModelError

log = logging.getLogger(__name__)

OPSET = 18
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"


def onnx_model(settings: ModelSettings, int8: bool, input_size: tuple[int, int]) -> Path:
    """The cached ONNX file for these weights, exported (and quantized) first if missing."""
    folder = cache_folder(settings, OPSET)
    fp32 = folder / FP32_FILE
    if not fp32.exists():
        _export(settings, fp32, input_size)
    if not int8:
        return fp32
    quantized = folder / INT8_FILE
    if not quantized.exists():
        _quantize(fp32, quantized)
    return quantized


def _export(settings: ModelSettings, path: Path, input_size: tuple[int, int]) -> None:
    started = time.perf_counter()
    log.info("exporting %s to ONNX at %s (once; ~20 s for a base model)", settings.name, path)
    failure = (
        f"exporting {settings.name!r} to ONNX failed (DEEPGUARD_MODEL__BACKEND=torch runs it)"
    )
    with _replacing(path, failure) as temporary:
        try:
            _trace(settings, temporary, input_size, attention=None)
        except Exception:
            # Some families' fused attention does not export with a dynamic batch (Swin's SDPA
            # views a non-contiguous tensor); their eager attention does, same weights.
            log.info("exporting %s again with eager attention", settings.name)
            _trace(settings, temporary, input_size, attention="eager")
    log.info("exported in %.1f s (%.0f MB)", time.perf_counter() - started, _mb(path))


def _trace(
    settings: ModelSettings, path: Path, input_size: tuple[int, int], attention: str | None
) -> None:
    from transformers import AutoModelForImageClassification

    options = hub_options(settings)
    if attention is not None:
        options["attn_implementation"] = attention
    model = AutoModelForImageClassification.from_pretrained(settings.name, **options)
    width, height = input_size
    example = torch.zeros(2, 3, height, width)
    batch = torch.export.Dim("batch", min=1, max=1024)
    with warnings.catch_warnings():
        # The exporter's own deprecation chatter; start-up only, before any serving thread.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Logits(model.float().eval()),
            (example,),
            str(path),
            input_names=["pixel_values"],
            output_names=["logits"],
            dynamic_shapes={"pixel_values": {0: batch}},
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def _quantize(source: Path, path: Path) -> None:
    """Dynamic int8: per-channel weights at 7 bits, activations quantized per batch.

    The reduced range matters on CPUs without VNNI (AVX2): their u8*s8 multiply-add saturates
    at 16 bits, which moved the random base model's probabilities by ~0.03 at full range and
    ~0.005 at 7 bits (measured; see docs/benchmarks.md).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    hush = _Hush("Please consider to run pre-processing")  # static quantization advice
    logging.getLogger().addFilter(hush)
    try:
        with _replacing(path, f"quantizing {source} to int8 failed") as temporary:
            quantize_dynamic(
                source,
                temporary,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
            )
    finally:
        logging.getLogger().removeFilter(hush)
    log.info("quantized to int8 in %.1f s (%.0f MB)", time.perf_counter() - started, _mb(path))


@contextmanager
def _replacing(path: Path, failure: str) -> Iterator[Path]:
    """A temporary file that becomes `path` when the block succeeds; any failure a ModelError."""
    temporary = _temporary(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except Exception as exc:
        raise ModelError(f"{failure}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


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
