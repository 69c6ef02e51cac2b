"""The classifier on ONNX Runtime: the same preprocessing and labels, a faster engine.

Exported graphs take one fixed-size `pixel_values` tensor, which covers the families whose
processor makes only that (SigLIP, ViT, Swin, ConvNeXt); a model whose processor makes more
inputs (SigLIP2 NaFlex) or sizes that follow the image is refused at start-up.

On a small CPU, ONNX Runtime's fused kernels run the base model ~1.3x faster than eager
PyTorch at fp32, and its dynamic int8 about twice as fast again (docs/benchmarks.md). The
exported graph is cached (`core.backends.export`), so after the first start loading costs
less than loading the PyTorch model.

For the linear-head families (SigLIP, SigLIP2) the graph also gives the last hidden state, and
the head's weights are cached beside it, so `explain` maps the same run exactly; ONNX has no
gradients, so other families do not explain here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from config import ModelSettings
from core.backends import intra_op_threads
from core.backends.cpu import CpuFeatures, cpu_features, int8_reduce_range
from core.backends.export import HEAD_FILE, HIDDEN_OUTPUT, onnx_model
from core.classifier import resolve_device
from core.errors import ExplanationUnavailable, ModelError
from core.explain import PatchMap, covered_box, linear_head_map, patch_grid
from core.labels import LabelMap
from core.model_checks import label_map, load_config_and_processor, probe, probe_image
from core.preprocess import ModelInputs, Preprocessing, Preprocessor
from core.result import Scores

log = logging.getLogger(__name__)


class OnnxClassifier(Preprocessing):
    """A `Classifier` over an `onnxruntime.InferenceSession` of the exported model."""

    def __init__(
        self,
        session: Any,
        preprocess: Preprocessor,
        labels: LabelMap,
        *,
        per_image: bool,
        explaining: _Explaining | None = None,
    ) -> None:
        self._session = session
        self._preprocess = preprocess
        self._input = session.get_inputs()[0].name
        self._per_image = per_image
        self._explaining = explaining
        self.labels = labels

    @classmethod
    def load(
        cls, settings: ModelSettings, *, spinning: bool = True, cpu: CpuFeatures | None = None
    ) -> OnnxClassifier:
        """Load (exporting on the first start: tens of seconds; blocking, so run in a thread).

        `spinning` lets idle pool threads busy-wait for work (ONNX Runtime's default). Off,
        they sleep and leave the cores to the decode threads, but every one of the graph's
        parallel steps then pays a wake-up: measured 10-15 % slower at 1 and at 16 in flight
        on 2 cores, so it stays on (docs/benchmarks.md). `cpu` stands in for this CPU's
        features (which choose the int8 range).
        """
        try:
            import onnxruntime
        except ImportError:
            raise ModelError(
                f"the {settings.backend} backend needs ONNX Runtime: pip install 'deepguard[onnx]'"
            ) from None
        started = time.perf_counter()
        config, processor = load_config_and_processor(settings)
        labels = label_map(settings, config.id2label)
        preprocess = Preprocessor(processor)
        input_size = fixed_input_size(preprocess, settings)
        reduce_range = None
        if settings.backend == "onnx-int8":
            cpu = cpu_features() if cpu is None else cpu
            reduce_range = int8_reduce_range(cpu)
            log.info(
                "CPU features: %s; int8 weights at %s range",
                cpu.describe(),
                "7-bit" if reduce_range else "full",
            )
        path = onnx_model(settings, input_size, int8_reduce_range=reduce_range)
        session = onnxruntime.InferenceSession(
            str(path),
            _session_options(onnxruntime, settings, spinning),
            providers=_providers(settings),
        )
        log.info(
            "loaded %s (%s, %s) in %.1f s (labels %s)",
            settings.name,
            settings.backend,
            session.get_providers()[0],
            time.perf_counter() - started,
            labels.names,
        )
        # Dynamic int8 scales activations by the whole batch's range, so an image's answer
        # would depend on the images it happens to share a batch with: run those one by one.
        explaining = _Explaining.find(session, path, processor, config)
        classifier = cls(
            session,
            preprocess,
            labels,
            per_image=settings.backend == "onnx-int8",
            explaining=explaining,
        )
        probe(classifier, settings.name)
        return classifier

    def predict(self, batch: Sequence[ModelInputs]) -> list[Scores]:
        groups = [[inputs] for inputs in batch] if self._per_image else [list(batch)]
        logits = np.concatenate([self._run(group) for group in groups])
        return [self.labels.scores(row.tolist()) for row in _softmax(logits)]

    def explain(self, prepared: ModelInputs, size: tuple[int, int]) -> tuple[Scores, PatchMap]:
        """The scores of one prepared picture of `size` and its exact map, from one run."""
        if self._explaining is None:
            raise ExplanationUnavailable()
        pixels = prepared["pixel_values"]
        logits, hidden = self._session.run(["logits", HIDDEN_OUTPUT], {self._input: pixels[None]})
        return self._explaining.explain(logits[0], hidden[0], self.labels, pixels.shape, size)

    def _run(self, group: list[ModelInputs]) -> Any:
        pixels = np.stack([inputs["pixel_values"] for inputs in group])
        return self._session.run(["logits"], {self._input: pixels})[0]


def fixed_input_size(preprocess: Preprocessor, settings: ModelSettings) -> tuple[int, int]:
    """The (width, height) every image is made into, or a start-up refusal naming the fix."""
    if preprocess.input_size is not None:
        return preprocess.input_size
    fix = "; set DEEPGUARD_MODEL__BACKEND=torch to run it"
    wide = probe_image()
    try:
        made = [preprocess(wide), preprocess(wide.transpose(Image.Transpose.TRANSPOSE))]
    except Exception as exc:
        raise ModelError(
            f"DEEPGUARD_MODEL__NAME: the image processor of {settings.name!r} fails on a "
            f"picture ({type(exc).__name__}: {exc})"
        ) from exc
    extra = sorted(set(made[0]) - {"pixel_values"})
    if extra:
        raise ModelError(
            f"the {settings.backend} backend runs models that take pixel_values only, and "
            f"{settings.name!r} also takes {', '.join(extra)}{fix}"
        )
    shapes = {inputs["pixel_values"].shape for inputs in made}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3:
        raise ModelError(
            f"the {settings.backend} backend needs one input size, and the processor of "
            f"{settings.name!r} makes {sorted(shapes)} from pictures of different shapes{fix}"
        )
    _, height, width = next(iter(shapes))
    return int(width), int(height)


class _Explaining:
    """What an exported linear-head model needs to explain: its head, patch size and processor."""

    def __init__(self, weight: Any, bias: Any, config: Any, processor: Any) -> None:
        self._weight = weight
        self._bias = bias
        self._config = config
        self._processor = processor

    @classmethod
    def find(cls, session: Any, path: Path, processor: Any, config: Any) -> _Explaining | None:
        """None unless the graph gives the last hidden state and the head was saved beside it."""
        outputs = {output.name for output in session.get_outputs()}
        head = path.with_name(HEAD_FILE)
        if HIDDEN_OUTPUT not in outputs or not head.exists():
            return None
        with np.load(head) as saved:
            return cls(saved["weight"], saved["bias"], config, processor)

    def explain(
        self,
        logits: Any,
        hidden: Any,
        labels: LabelMap,
        shape: tuple[int, ...],
        size: tuple[int, int],
    ) -> tuple[Scores, PatchMap]:
        patches = linear_head_map(
            hidden,
            self._weight,
            self._bias,
            logits.tolist(),
            labels,
            shape=patch_grid(self._config, shape[-2], shape[-1]),
        )
        scores = labels.scores(_softmax(logits).tolist())
        return scores, replace(patches, box=covered_box(self._processor, size))


def _softmax(logits: Any) -> Any:
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(shifted - shifted.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _session_options(onnxruntime: Any, settings: ModelSettings, spinning: bool) -> Any:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_threads(settings)
    options.inter_op_num_threads = 1  # one graph at a time; the batcher feeds it in order
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options


def _providers(settings: ModelSettings) -> list[str]:
    """CUDA when the device asks for it and this onnxruntime build has it (untested here)."""
    if resolve_device(settings.device).type == "cuda":
        if settings.dtype != "float32":
            log.warning("DEEPGUARD_MODEL__DTYPE applies to the torch backend only")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]
