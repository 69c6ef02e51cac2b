"""The model seam: a blocking, batched classifier, and the Hugging Face one users run."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

# Set before torch loads libgomp, which reads it once: idle OpenMP threads then sleep instead
# of spinning, so the decode threads get a core when they need one (a spinning pool made the
# forward pass ~3x slower beside one busy decoder; docs/benchmarks.md). A value set by the
# user wins; it has no effect if torch was imported before this module.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from config import ModelSettings
from core.backends.cpu import CpuFeatures, cpu_features
from core.errors import ModelError
from core.explain import PatchMap, covered_box, model_inputs, torch_map
from core.labels import LabelMap
from core.preprocess import PixelArray, Preprocessing, Preprocessor
from core.result import Scores

log = logging.getLogger(__name__)


class Classifier(Protocol):
    """A blocking model: `prepare` one image (any thread), `predict` a batch (one thread)."""

    def prepare(self, image: Image.Image) -> PixelArray: ...

    def predict(self, batch: Sequence[PixelArray]) -> list[Scores]: ...


class HFClassifier(Preprocessing):
    """`AutoImageProcessor` + `AutoModelForImageClassification`, as the model card uses them."""

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
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        torch.set_num_threads(intra_op_threads(settings))
        int8 = settings.backend == "torch-int8"
        # Quantized kernels are CPU-only: "auto" means the CPU for them, even beside a GPU.
        device = resolve_device("cpu" if int8 and settings.device == "auto" else settings.device)
        dtype = _dtype(settings, device, cpu)
        options: dict[str, Any] = {
            "revision": settings.revision,
            "cache_dir": settings.cache_dir,
            "local_files_only": settings.offline,
        }
        started = time.perf_counter()
        try:
            processor = AutoImageProcessor.from_pretrained(settings.name, **options)
            model = AutoModelForImageClassification.from_pretrained(settings.name, **options)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model {settings.name!r}: {exc}") from exc
        model.to(device=device, dtype=dtype).eval()
        if int8:
            model = _quantize(model, device)
        labels = LabelMap.from_id2label(model.config.id2label, settings.fake_label)
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
        return cls(processor, model, labels, device, per_image=int8)

    def predict(self, batch: Sequence[PixelArray]) -> list[Scores]:
        groups = [[pixels] for pixels in batch] if self._per_image else [list(batch)]
        with torch.inference_mode():
            logits = torch.cat([self._logits(group) for group in groups])
            probabilities = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return [self.labels.scores(row.tolist()) for row in probabilities]

    def explain(
        self,
        prepared: PixelArray | Mapping[str, npt.NDArray[Any]],
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

    def _logits(self, group: list[PixelArray]) -> torch.Tensor:
        pixels = torch.from_numpy(np.stack(group)).to(self._device, self._dtype)
        logits: torch.Tensor = self._model(pixel_values=pixels).logits
        return logits


def intra_op_threads(settings: ModelSettings) -> int:
    """The setting, or every core this process may run on (containers pin CPUs by affinity)."""
    if settings.threads:
        return settings.threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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
