"""Export a hub classifier to ONNX once (and quantize it to int8), into the weights' cache folder.

The graph's output is `logits`; for the linear-head families (SigLIP, SigLIP2) also the vision
tower's `last_hidden_state`, and their head's weights are saved beside it (`HEAD_FILE`), so
the ONNX backends explain exactly too (`core.explain`). Int8 quantization leaves that head in
float32, which keeps it exact.

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

import numpy as np
import torch

from config import ModelSettings
from core.backends.cache import cache_folder, hub_options
from core.errors import ModelError
from core.explain import LINEAR_HEAD_FAMILIES, last_hidden_state

log = logging.getLogger(__name__)

OPSET = 18
# The exported graph's layout, part of the cache key: 1 had `logits` only; 2 adds
# `last_hidden_state` (and HEAD_FILE) for the linear-head families.
GRAPH = 2
FP32_FILE = "model.onnx"
HEAD_FILE = "head.npz"  # the linear head's `weight` (classes, width) and `bias` (classes,)
HIDDEN_OUTPUT = "last_hidden_state"
# The quantization range is part of the file's name: a cache made on a CPU with VNNI and then
# served on one without (or the other way round) is quantized again for the CPU serving it.
INT8_FILES = {False: "model-int8-full.onnx", True: "model-int8-7bit.onnx"}


def onnx_model(
    settings: ModelSettings, input_size: tuple[int, int], *, int8_reduce_range: bool | None
) -> Path:
    """The cached ONNX file for these weights, exported (and quantized) first if missing.

    `int8_reduce_range` is None for the float32 graph, else the int8 range to quantize to.
    """
    folder = cache_folder(settings, input_size, OPSET, GRAPH)
    fp32 = folder / FP32_FILE
    if not fp32.exists():
        _export(settings, fp32, input_size)
    if int8_reduce_range is None:
        return fp32
    quantized = folder / INT8_FILES[int8_reduce_range]
    if not quantized.exists():
        _quantize(fp32, quantized, reduce_range=int8_reduce_range)
    return quantized


def _export(settings: ModelSettings, path: Path, input_size: tuple[int, int]) -> None:
    started = time.perf_counter()
    log.info("exporting %s to ONNX at %s (once; ~20 s for a base model)", settings.name, path)
    failure = (
        f"exporting {settings.name!r} to ONNX failed (DEEPGUARD_MODEL__BACKEND=torch runs it)"
    )
    with _replacing(path, failure) as temporary:
        try:
            _trace(settings, temporary, input_size, attention=None, failure=failure)
        except Exception:
            # Some families' fused attention does not export with a dynamic batch (Swin's SDPA
            # views a non-contiguous tensor); their eager attention does, same weights.
            log.info("exporting %s again with eager attention", settings.name)
            _trace(settings, temporary, input_size, attention="eager", failure=failure)
    log.info("exported in %.1f s (%.0f MB)", time.perf_counter() - started, _mb(path))


def _trace(
    settings: ModelSettings,
    path: Path,
    input_size: tuple[int, int],
    *,
    attention: str | None,
    failure: str,
) -> None:
    from transformers import AutoModelForImageClassification

    options = hub_options(settings)
    if attention is not None:
        options["attn_implementation"] = attention
    model = AutoModelForImageClassification.from_pretrained(settings.name, **options)
    model = model.float().eval()
    width, height = input_size
    example = torch.zeros(2, 3, height, width)
    batch = torch.export.Dim("batch", min=1, max=1024)
    linear_head = type(model).__name__ in LINEAR_HEAD_FAMILIES
    if linear_head:  # written first: the graph's file is what says the export is complete
        with _replacing(path.parent / HEAD_FILE, failure) as temporary:
            _save_head(model.classifier, temporary)
    wrapper = _LogitsAndHidden(model) if linear_head else _Logits(model)
    with warnings.catch_warnings():
        # The exporter's own deprecation chatter; start-up only, before any serving thread.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (example,),
            str(path),
            input_names=["pixel_values"],
            output_names=["logits", HIDDEN_OUTPUT] if linear_head else ["logits"],
            dynamic_shapes={"pixel_values": {0: batch}},
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def _quantize(source: Path, path: Path, *, reduce_range: bool) -> None:
    """Dynamic int8: per-channel weights (at 7 bits if `reduce_range`), activations per batch.

    The reduced range matters on CPUs without VNNI (AVX2): their u8*s8 multiply-add saturates
    at 16 bits, which moved the random base model's probabilities by ~0.03 at full range and
    ~0.005 at 7 bits. With VNNI there is no saturation and 7 bits only cost precision
    (`core.backends.cpu.int8_reduce_range`; measured in docs/benchmarks.md).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    started = time.perf_counter()
    head = _head_nodes(source)
    hush = _Hush("Please consider to run pre-processing")  # static quantization advice
    logging.getLogger().addFilter(hush)
    try:
        with _replacing(path, f"quantizing {source} to int8 failed") as temporary:
            quantize_dynamic(
                source,
                temporary,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=reduce_range,
                nodes_to_exclude=head,
            )
    finally:
        logging.getLogger().removeFilter(hush)
    log.info(
        "quantized to int8 (%s range) in %.1f s (%.0f MB)",
        "7-bit" if reduce_range else "full",
        time.perf_counter() - started,
        _mb(path),
    )


def _save_head(head: Any, path: Path) -> None:
    weight = head.weight.detach().float().numpy()
    bias = getattr(head, "bias", None)
    offsets = np.zeros(len(weight), np.float32) if bias is None else bias.detach().float().numpy()
    with path.open("wb") as file:
        np.savez(file, weight=weight, bias=offsets)


def _head_nodes(source: Path) -> list[str]:
    """The graph's nodes that apply the classifier head, which int8 quantization leaves alone.

    Only a graph with `last_hidden_state` needs that; if its head cannot be found, it is
    quantized like the rest and the onnx-int8 backend will not explain.
    """
    import onnx

    graph = onnx.load(str(source), load_external_data=False).graph
    if HIDDEN_OUTPUT not in {output.name for output in graph.output}:
        return []
    weights = {w.name for w in graph.initializer if w.name.startswith("model.classifier.")}
    nodes = [node.name for node in graph.node if weights & set(node.input)]
    if not nodes:
        log.warning("the classifier head was not found in %s: onnx-int8 will not explain", source)
    # The quantizer first rewrites a Gemm as a MatMul (+ Add) named after it.
    return [name + suffix for name in nodes for suffix in ("", "_MatMul", "_Add")]


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


class _LogitsAndHidden(torch.nn.Module):
    """A linear-head classifier with its vision tower's last hidden state as a second output."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with last_hidden_state(self.model) as hidden:
            logits: torch.Tensor = self.model(pixel_values=pixel_values).logits
        return logits, hidden[-1]
