"""The model seam: a blocking, batched classifier, and the Hugging Face one users run."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from typing_extensions import TypeVar

# Set before torch loads libgomp, which reads it once: idle OpenMP threads then sleep instead
# of spinning, so the decode threads get a core when they need one (a spinning pool made the
# forward pass ~3x slower beside one busy decoder; docs/benchmarks.md). A value set by the
# user wins; it has no effect if torch was imported before this module.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from PIL import Image

from config import ModelSettings
from core.backends import intra_op_threads
from core.backends.cache import hub_options
from core.backends.cpu import CpuFeatures, cpu_features
from core.errors import ModelError
from core.explain import PatchMap, covered_box, model_inputs, torch_map
from core.labels import LabelMap
from core.model_checks import (
    NAME,
    label_map,
    load_config_and_processor,
    probe,
    refuse_missing_weights,
)
from core.preprocess import ModelInputs, Preprocessing, Preprocessor, same_layout, stack
from core.result import Scores

log = logging.getLogger(__name__)

Prepared = TypeVar("Prepared", default=Any)  # bare `Classifier`: any input type


class Classifier(Protocol[Prepared]):
    """A blocking model: `prepare` one image (any thread), `predict` a batch (one thread).

    What `prepare` makes is the classifier's own business (the hub classifiers' `ModelInputs`,
    a test fake's few pixels): the core only carries it from one call to the other.
    """

    def prepare(self, image: Image.Image) -> Prepared: ...

    def predict(self, batch: Sequence[Prepared]) -> list[Scores]: ...


class HFClassifier(Preprocessing):
    """`AutoImageProcessor` + `AutoModelForImageClassification`, as the model card uses them.

    Every input the processor makes reaches the model by name, and a batch runs as one call
    per input layout (see `core.preprocess.same_layout`).
    """

    def __init__(
        self,
        processor: Any,
        model: Any,
        labels: LabelMap,
        device: torch.device,
        *,
        per_image: bool = False,
    ) -> None:
        self._preprocess = Preprocessor(processor)
        self._processor = processor
        self._model = model
        self._device = device
        self._dtype = next(model.parameters()).dtype
        self._per_image = per_image
        self.labels = labels

    @classmethod
    def load(cls, settings: ModelSettings, *, cpu: CpuFeatures | None = None) -> HFClassifier:
        """Load from a hub id or a local directory (blocking: seconds, and maybe a download).

        `cpu` stands in for this CPU's features (which decide whether `torch-bf16` may run).
        """
        from transformers import AutoModelForImageClassification

        torch.set_num_threads(intra_op_threads(settings))
        int8 = settings.backend == "torch-int8"
        # Quantized kernels are CPU-only: "auto" means the CPU for them, even beside a GPU.
        device = resolve_device("cpu" if int8 and settings.device == "auto" else settings.device)
        dtype = _dtype(settings, device, cpu)
        started = time.perf_counter()
        config, processor = load_config_and_processor(settings)
        labels = label_map(settings, config.id2label)
        try:
            model, info = AutoModelForImageClassification.from_pretrained(
                settings.name, output_loading_info=True, **hub_options(settings)
            )
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"{NAME}: cannot load the weights of {settings.name!r}: {exc}"
            ) from exc
        refuse_missing_weights(settings.name, info)
        model.to(device=device, dtype=dtype).eval()
        if int8:
            model = _quantize(model, device)
        log.info(
            "loaded %s (%s, %s) on %s in %.1f s (labels %s, fake=%s)",
            settings.name,
            settings.backend,
            dtype,
            device,
            time.perf_counter() - started,
            labels.names,
            sorted(labels.names[i] for i in labels.fake) or "1 - real",
        )
        # Dynamic int8 scales activations by the whole batch's range, so an image's answer
        # would depend on the images it happens to share a batch with: run those one by one.
        classifier = cls(processor, model, labels, device, per_image=int8)
        probe(classifier, settings.name)
        return classifier

    def predict(self, batch: Sequence[ModelInputs]) -> list[Scores]:
        if self._per_image:
            groups = [[index] for index in range(len(batch))]
        else:
            groups = same_layout(batch)
        rows: list[list[float]] = [[] for _ in batch]
        with torch.inference_mode():
            for group in groups:
                logits = self._logits([batch[index] for index in group])
                probabilities = torch.softmax(logits.float(), dim=-1).cpu().numpy()
                for index, row in zip(group, probabilities, strict=True):
                    rows[index] = row.tolist()
        return [self.labels.scores(row) for row in rows]

    def explain(
        self,
        prepared: ModelInputs,
        size: tuple[int, int],
    ) -> tuple[Scores, PatchMap]:
        """The scores of one prepared picture of `size` and where the model saw evidence.

        One forward pass (`core.explain`); run it on the model thread. Int8 layers have no
        gradients, so there only the linear-head families (SigLIP, SigLIP2) explain.
        """
        inputs = model_inputs(prepared, self._device, self._dtype)
        quantized = self._per_image  # only int8 runs image by image
        logits, patches = torch_map(self._model, inputs, self.labels, gradients=not quantized)
        probabilities = torch.softmax(logits.float(), dim=-1)[0].tolist()
        box = covered_box(self._processor, size)
        return self.labels.scores(probabilities), replace(patches, box=box)

    def _logits(self, group: list[ModelInputs]) -> torch.Tensor:
        inputs = {name: self._tensor(array) for name, array in stack(group).items()}
        logits: torch.Tensor = self._model(**inputs).logits
        return logits

    def _tensor(self, array: np.ndarray[Any, Any]) -> torch.Tensor:
        """Floating inputs in the model's dtype; masks and shapes keep their integer type."""
        tensor = torch.from_numpy(array)
        if tensor.is_floating_point():
            return tensor.to(self._device, self._dtype)
        return tensor.to(self._device)


def _dtype(settings: ModelSettings, device: torch.device, cpu: CpuFeatures | None) -> torch.dtype:
    """Half precision on CUDA, and bf16 on CPUs with native bf16 (the `torch-bf16` backend).

    Without native bf16 (AVX2, AVX-512 without BF16) bf16 is emulated: measured ~2 s per image
    on the base model where float32 takes ~0.3 s, so it is refused there, naming better choices.
    """
    if settings.backend == "torch-bf16":
        if device.type == "cpu":
            cpu = cpu_features() if cpu is None else cpu
            log.info("CPU features: %s", cpu.describe())
            if not cpu.native_bf16:
                raise ModelError(
                    "the torch-bf16 backend needs a CPU with native bf16 (AVX-512-BF16 or AMX), "
                    f"and this one has neither (found: {cpu.describe()}); set "
                    "DEEPGUARD_MODEL__BACKEND=onnx-int8 (fastest on such CPUs) or torch (exact)"
                )
        return torch.bfloat16
    if settings.dtype == "float32":
        return torch.float32
    if device.type != "cuda":
        log.warning(
            "DEEPGUARD_MODEL__DTYPE=%s applies on CUDA only; using float32", settings.dtype
        )
        return torch.float32
    return torch.float16 if settings.dtype == "float16" else torch.bfloat16


def _quantize(model: Any, device: torch.device) -> Any:
    """Dynamic int8 on every Linear layer: weights quantized once, activations per batch."""
    if device.type != "cpu":
        raise ModelError(
            "the torch-int8 backend runs on the CPU only: set DEEPGUARD_MODEL__DEVICE=cpu"
        )
    with warnings.catch_warnings():
        # torch deprecates its quantized tensor types in favour of torchao; they still work.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        quantize: Any = torch.ao.quantization.quantize_dynamic  # untyped in torch
        # The head stays float: it is tiny, and exact it keeps explanations exact. By name,
        # so exactly the plain Linear layers a `{torch.nn.Linear}` spec would pick (not the
        # attention pooling's NonDynamicallyQuantizableLinear subclass).
        layers = {
            name
            for name, module in model.named_modules()
            if type(module) is torch.nn.Linear and name != "classifier"
        }
        return quantize(model, layers, dtype=torch.qint8)


def resolve_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ModelError("DEEPGUARD_MODEL__DEVICE is cuda but no CUDA device is available")
    return torch.device(choice)
