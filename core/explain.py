"""Where the model saw AI-like and real-like evidence: a map of the fake-minus-real logit gap.

SigLIP and SigLIP2 classifiers (`SiglipForImageClassification`, `Siglip2ForImageClassification`)
average the patch tokens of the last hidden state and apply one linear layer, so the gap between
the fake and the real logit decomposes exactly over the patches:

    gap = mean_i (w_fake - w_real) . h_i + (b_fake - b_real)

`linear_head_map` computes those terms from the forward pass that also gives the probabilities,
so explaining costs no second run: on PyTorch the vision tower's output is caught by a hook, and
the ONNX export carries it as a second output. The grid is the model's patch grid (14x14 at
224 px with patch 16); NaFlex models follow their `spatial_shapes`.

Other families (a ViT read from its CLS token, ConvNeXt, Swin) get a gradient-weighted class
activation map of their last block instead (`torch_map`): it needs autograd, so PyTorch only,
and not its int8 layers. Everywhere else explaining raises `ExplanationUnavailable`.

With several fake (or real) classes, the most likely fake class is weighed against the most
likely real one. The map says where the model looked, never where an image "is fake".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from core.errors import N_, ExplanationUnavailable, ModelError
from core.labels import LabelMap
from core.preprocess import PixelArray
from core.result import Scores

if TYPE_CHECKING:  # only the PyTorch backend runs the torch half of this module
    import torch

log = logging.getLogger(__name__)

# Heads that are one linear layer over the mean of the last hidden state's patch tokens.
LINEAR_HEAD_FAMILIES: Final = frozenset(
    {"SiglipForImageClassification", "Siglip2ForImageClassification"}
)
# How far the map may miss the model's own logit gap, relative to max(1, |gap|): float32
# arithmetic misses by ~1e-6, so more means the head is not what this module assumes.
FLOAT32_TOLERANCE: Final = 1e-3
HALF_TOLERANCE: Final = 5e-2  # float16/bfloat16 sum 196 tokens with 8-11 bits of mantissa

Box = tuple[float, float, float, float]  # left, top, right, bottom, as fractions of the picture
WHOLE: Final[Box] = (0.0, 0.0, 1.0, 1.0)


class Method(StrEnum):
    EXACT = "exact"  # the linear head's own decomposition
    GRADIENT = "gradient"  # gradient-weighted activation of the last block (Grad-CAM)


@dataclass(frozen=True, slots=True, eq=False)
class PatchMap:
    """Per-patch shares of the fake-minus-real logit gap, such that `mean(grid) + bias == gap`.

    An exact map's `bias` is the head's bias difference; a gradient map's is what its
    first-order terms leave of the gap. `box` is the part of the picture the model was shown
    (all of it, unless its processor crops).
    """

    grid: npt.NDArray[np.float64]  # rows x cols, in logit units
    bias: float
    method: Method
    box: Box = WHOLE

    @property
    def rows(self) -> int:
        return int(self.grid.shape[0])

    @property
    def cols(self) -> int:
        return int(self.grid.shape[1])

    @property
    def gap(self) -> float:
        return float(self.grid.mean()) + self.bias


@dataclass(frozen=True, slots=True, eq=False)
class Explanation:
    """The core's answer to "why?": the map, the probabilities of the same run, maybe a picture."""

    sha256: str
    scores: Scores
    patches: PatchMap
    png: bytes | None = None  # the picture (`core.heatmap`), when one was asked for

    @property
    def fake_probability(self) -> float:
        return self.scores.fake_probability

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `deepguard explain --json` (which adds "file" first)."""
        return {
            "fake_probability": round(self.fake_probability, 6),
            "rows": self.patches.rows,
            "cols": self.patches.cols,
            "grid": self.patches.grid.tolist(),
            "bias": self.patches.bias,
        }


@runtime_checkable
class Explainer(Protocol):
    """A classifier that can explain: blocking, on the thread that runs its model."""

    def explain(self, prepared: PixelArray, size: tuple[int, int]) -> tuple[Scores, PatchMap]:
        """The scores of one prepared picture of `size` (width, height) and its map."""
        ...


def contrast(labels: LabelMap, logits: Sequence[float]) -> tuple[int, int]:
    """The most likely fake class and the most likely real one, as indices.

    A model that names only its real classes has every other class on the fake side, and the
    other way round, as `LabelMap.scores` counts them.
    """
    every = frozenset(range(len(labels.names)))
    fakes = labels.fake or every - labels.real
    reals = labels.real or every - labels.fake
    if not fakes or not reals:
        raise ExplanationUnavailable(N_("this model has no fake and real classes to weigh"))
    return (
        max(sorted(fakes), key=lambda i: logits[i]),
        max(sorted(reals), key=lambda i: logits[i]),
    )


def linear_head_map(
    hidden: npt.NDArray[Any],
    weight: npt.NDArray[Any],
    bias: npt.NDArray[Any] | None,
    logits: Sequence[float],
    labels: LabelMap,
    *,
    shape: tuple[int, int],
    mask: npt.NDArray[Any] | None = None,
    tolerance: float = FLOAT32_TOLERANCE,
) -> PatchMap:
    """The exact map of one image from its last hidden state and the linear head.

    `hidden` is (tokens, width) and `weight` (classes, width); `mask` marks the real patches
    among padded ones (NaFlex), which come first in row order. The map is checked against the
    model's own `logits` from the same run.
    """
    fake, real = contrast(labels, logits)
    direction = weight[fake].astype(np.float64) - weight[real].astype(np.float64)
    tokens = hidden.astype(np.float64)
    if mask is not None:
        tokens = tokens[np.asarray(mask).astype(bool)]
    rows, cols = shape
    if len(tokens) != rows * cols:
        log.error("%d patch tokens for a %dx%d grid; this is a bug", len(tokens), rows, cols)
        raise ModelError()
    offset = 0.0 if bias is None else float(bias[fake]) - float(bias[real])
    patches = PatchMap((tokens @ direction).reshape(rows, cols), offset, Method.EXACT)
    gap = float(logits[fake]) - float(logits[real])
    if abs(patches.gap - gap) > tolerance * max(1.0, abs(gap)):
        log.error(
            "the patch map adds up to %.6g, not the model's logit gap %.6g: the head is not "
            "a linear layer over the mean patch token; this is a bug",
            patches.gap,
            gap,
        )
        raise ModelError()
    return patches


def patch_grid(config: Any, height: int, width: int) -> tuple[int, int]:
    """Rows and columns of patches of a fixed-size input, from the model's config."""
    vision = getattr(config, "vision_config", None) or config
    patch = int(vision.patch_size)
    return height // patch, width // patch


def covered_box(processor: Any, size: tuple[int, int]) -> Box:
    """The part of a picture of `size` that its processor hands the model.

    Resizing processors (SigLIP, SigLIP2 NaFlex, ViT, Swin) keep all of it; ConvNeXt below
    384 px and centre-cropping processors keep a centred part. Rounding is ignored: the map is
    smoothed over the picture anyway.
    """
    width, height = size
    spec = getattr(processor, "size", None)
    shortest = _field(spec, "shortest_edge")
    crop_pct = getattr(processor, "crop_pct", None)
    if not getattr(processor, "do_resize", True):
        resized = (float(width), float(height))
    elif shortest and crop_pct and shortest < 384:
        # ConvNeXt: the shortest side to shortest / crop_pct, then a centred shortest^2 crop.
        scale = int(shortest / crop_pct) / min(width, height)
        return _centred((width * scale, height * scale), (shortest, shortest))
    elif shortest:
        scale = shortest / min(width, height)
        resized = (width * scale, height * scale)
    elif _field(spec, "height") and _field(spec, "width"):
        resized = (float(_field(spec, "width")), float(_field(spec, "height")))
    else:
        resized = (float(width), float(height))
    crop_size = getattr(processor, "crop_size", None)
    crop = (_field(crop_size, "width"), _field(crop_size, "height"))
    if not getattr(processor, "do_center_crop", False) or not all(crop):
        return WHOLE
    return _centred(resized, (crop[0], crop[1]))


def _centred(resized: tuple[float, float], crop: tuple[float, float]) -> Box:
    across, down = min(1.0, crop[0] / resized[0]), min(1.0, crop[1] / resized[1])
    return ((1 - across) / 2, (1 - down) / 2, (1 + across) / 2, (1 + down) / 2)


def _field(spec: Any, key: str) -> Any:
    return spec.get(key) if isinstance(spec, dict) else getattr(spec, key, None)


# The PyTorch half: the model is a transformers image classifier, the batch one image.


def model_inputs(
    prepared: npt.NDArray[Any] | Mapping[str, npt.NDArray[Any]],
    device: torch.device,
    dtype: torch.dtype,
) -> dict[str, torch.Tensor]:
    """One prepared image as a batch of one: floating inputs in the model's dtype.

    A bare array is `pixel_values`; a mapping is every input its processor made (NaFlex adds
    `pixel_attention_mask` and `spatial_shapes`, whose integer types are kept).
    """
    import torch

    arrays = {"pixel_values": prepared} if isinstance(prepared, np.ndarray) else prepared
    tensors = {}
    for name, array in arrays.items():
        tensor = torch.from_numpy(np.ascontiguousarray(array)[None]).to(device)
        tensors[name] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    return tensors


def torch_map(
    model: Any, inputs: Mapping[str, torch.Tensor], labels: LabelMap, *, gradients: bool
) -> tuple[torch.Tensor, PatchMap]:
    """The logits of one image, shape (1, classes), and its map, from one forward pass.

    Without `gradients` (int8 layers) only the linear-head families explain.
    """
    if type(model).__name__ in LINEAR_HEAD_FAMILIES:
        return _linear_head(model, inputs, labels)
    if not gradients:
        raise ExplanationUnavailable()
    return _gradient_map(model, inputs, labels)


@contextmanager
def last_hidden_state(model: Any) -> Iterator[list[torch.Tensor]]:
    """Collects the vision tower's `last_hidden_state` on every forward pass in the block."""
    captured: list[torch.Tensor] = []

    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        captured.append(output.last_hidden_state)

    handle = model.vision_model.register_forward_hook(keep)
    try:
        yield captured
    finally:
        handle.remove()


def _linear_head(
    model: Any, inputs: Mapping[str, torch.Tensor], labels: LabelMap
) -> tuple[torch.Tensor, PatchMap]:
    import torch

    head = model.classifier
    if not isinstance(head, torch.nn.Linear):  # e.g. a quantized head: not exact any more
        raise ExplanationUnavailable()
    with torch.inference_mode(), last_hidden_state(model) as captured:
        logits: torch.Tensor = model(**inputs).logits
    shapes, mask = inputs.get("spatial_shapes"), inputs.get("pixel_attention_mask")
    if shapes is not None:
        rows, cols = (int(n) for n in shapes[0].tolist())
    else:
        rows, cols = patch_grid(model.config, *inputs["pixel_values"].shape[-2:])
    patches = linear_head_map(
        _numpy(captured[-1][0]),
        _numpy(head.weight),
        None if head.bias is None else _numpy(head.bias),
        logits[0].float().tolist(),
        labels,
        shape=(rows, cols),
        mask=None if mask is None else _numpy(mask[0]),
        tolerance=FLOAT32_TOLERANCE if logits.dtype == torch.float32 else HALF_TOLERANCE,
    )
    return logits, patches


def _gradient_map(
    model: Any, inputs: Mapping[str, torch.Tensor], labels: LabelMap
) -> tuple[torch.Tensor, PatchMap]:
    """Grad-CAM on the last block, signed: each position's activation times the channel weights.

    The channel weights are the gap's gradient summed over positions (not averaged), so a head
    that averages positions into a linear layer gets exactly its own decomposition back.
    """
    import torch

    with torch.enable_grad():
        # A leaf that wants gradients makes every activation carry one, even in a frozen model.
        pixels = inputs["pixel_values"].detach().clone().requires_grad_(True)
        outputs = model(**{**inputs, "pixel_values": pixels}, output_hidden_states=True)
        logits: torch.Tensor = outputs.logits
        fake, real = contrast(labels, logits[0].float().tolist())
        gap = logits[0, fake] - logits[0, real]
        source, shape = _last_block(model, outputs, pixels.shape)
        (gradient,) = torch.autograd.grad(gap, source)
    activation, slope = _positions(source.detach(), shape), _positions(gradient, shape)
    grid = (activation.double() @ slope.double().sum(dim=0)).reshape(shape).cpu().numpy()
    bias = float(gap.detach()) - float(grid.mean())
    return logits.detach(), PatchMap(grid, bias, Method.GRADIENT)


def _last_block(
    model: Any, outputs: Any, pixel_shape: Sequence[int]
) -> tuple[torch.Tensor, tuple[int, int]]:
    """The activations to weigh, and their grid of positions.

    Feature maps (ConvNeXt) and Swin's tokens, which are pooled, are the last block's output.
    Token models read from a CLS token take the last block's input: its output tokens never
    reach the CLS.
    """
    states = getattr(outputs, "hidden_states", None)
    if not states:
        raise ExplanationUnavailable()
    last = states[-1]
    if last.dim() == 4:
        return last, (int(last.shape[-2]), int(last.shape[-1]))
    # Swin's reshaped copy names the grid; the gradient flows through the tokens themselves.
    reshaped = getattr(outputs, "reshaped_hidden_states", None)
    if reshaped and last.dim() == 3:
        return last, (int(reshaped[-1].shape[-2]), int(reshaped[-1].shape[-1]))
    if last.dim() != 3 or len(states) < 2 or not _has_patch_size(model.config):
        raise ExplanationUnavailable()
    rows, cols = patch_grid(model.config, int(pixel_shape[-2]), int(pixel_shape[-1]))
    if rows * cols > states[-2].shape[1]:
        raise ExplanationUnavailable()
    return states[-2], (rows, cols)


def _positions(tensor: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(positions, channels) of the first image, in row order; special tokens dropped."""
    first = tensor[0].float()
    if first.dim() == 3:  # channels, rows, cols
        return first.flatten(1).T
    return first[-shape[0] * shape[1] :]


def _has_patch_size(config: Any) -> bool:
    vision = getattr(config, "vision_config", None) or config
    return isinstance(getattr(vision, "patch_size", None), int)


def _numpy(tensor: torch.Tensor) -> npt.NDArray[Any]:
    return tensor.detach().float().cpu().numpy()
