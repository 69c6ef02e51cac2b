"""The classifier on ONNX Runtime: the same preprocessing and labels, a faster engine.

Exported graphs take one fixed-size `pixel_values` tensor, which covers the families whose
processor makes only that (SigLIP, ViT, Swin, ConvNeXt); a model whose processor makes more
inputs (SigLIP2 NaFlex) or sizes that follow the image is refused at start-up.

On a small CPU, ONNX Runtime's fused kernels run the base model ~1.3x faster than eager
PyTorch at fp32, and its dynamic int8 about twice as fast again (docs/benchmarks.md). The
exported graph is cached (`core.backends.export`), so after the first start loading costs
less than loading the PyTorch model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from config import ModelSettings
from core.backends import intra_op_threads
from core.backends.export import onnx_model
from core.classifier import resolve_device
from core.errors import ModelError
from core.labels import LabelMap
from core.model_checks import label_map, load_config_and_processor, probe, probe_image
from core.preprocess import ModelInputs, Preprocessing, Preprocessor
from core.result import Scores

log = logging.getLogger(__name__)


class OnnxClassifier(Preprocessing):
    """A `Classifier` over an `onnxruntime.InferenceSession` of the exported model."""

    def __init__(
        self, session: Any, preprocess: Preprocessor, labels: LabelMap, *, per_image: bool
    ) -> None:
        self._session = session
        self._preprocess = preprocess
        self._input = session.get_inputs()[0].name
        self._per_image = per_image
        self.labels = labels

    @classmethod
    def load(cls, settings: ModelSettings, *, spinning: bool = True) -> OnnxClassifier:
        """Load (exporting on the first start: tens of seconds; blocking, so run in a thread).

        `spinning` lets idle pool threads busy-wait for work (ONNX Runtime's default). Off,
        they sleep and leave the cores to the decode threads, but every one of the graph's
        parallel steps then pays a wake-up: measured 10-15 % slower at 1 and at 16 in flight
        on 2 cores, so it stays on (docs/benchmarks.md).
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
        path = onnx_model(
            settings, settings.backend == "onnx-int8", fixed_input_size(preprocess, settings)
        )
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
        classifier = cls(session, preprocess, labels, per_image=settings.backend == "onnx-int8")
        probe(classifier, settings.name)
        return classifier

    def predict(self, batch: Sequence[ModelInputs]) -> list[Scores]:
        groups = [[inputs] for inputs in batch] if self._per_image else [list(batch)]
        logits = np.concatenate([self._run(group) for group in groups])
        return [self.labels.scores(row.tolist()) for row in _softmax(logits)]

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
