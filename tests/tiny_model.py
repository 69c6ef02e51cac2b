"""Tiny, randomly initialised image classifiers saved the way the hub serves real ones.

One builder per family DeepGuard runs (real config classes, `save_pretrained`, loaded back
through the user's path): SigLIP (2 or 3 classes), SigLIP2 NaFlex (patch layouts that vary with
the image), ViT (CLS token), ConvNeXt (shortest edge + centre crop) and Swin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import (
    ConvNextConfig,
    ConvNextForImageClassification,
    ConvNextImageProcessorPil,
    Siglip2Config,
    Siglip2ForImageClassification,
    Siglip2ImageProcessorPil,
    SiglipConfig,
    SiglipForImageClassification,
    SiglipImageProcessorPil,
    SwinConfig,
    SwinForImageClassification,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessorPil,
)

TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 32,
    "patch_size": 8,
}
TINY_TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
}
THREE_CLASSES = {0: "AI", 1: "Deepfake", 2: "Real"}

Builder = Callable[..., Path]


def _label_options(id2label: dict[int, str] | None) -> dict[str, Any]:
    labels = id2label or {0: "Real", 1: "Fake"}
    return {"id2label": labels, "label2id": {name: index for index, name in labels.items()}}


def _save(path: Path, model: Any, processor: Any) -> Path:
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def build_model_dir(
    path: Path,
    id2label: dict[int, str] | None = None,
    *,
    vision: dict[str, int] | None = None,
    resample: int = 2,
    seed: int = 0,
) -> Path:
    """SigLIP (`SiglipForImageClassification`, fixed square input): save it into `path`."""
    vision_config = {**TINY_VISION, **(vision or {})}
    config = SiglipConfig(
        vision_config=vision_config, text_config=TINY_TEXT, **_label_options(id2label)
    )
    torch.manual_seed(seed)
    size = vision_config["image_size"]
    processor = SiglipImageProcessorPil(size={"height": size, "width": size}, resample=resample)
    return _save(path, SiglipForImageClassification(config), processor)


def build_siglip2_dir(
    path: Path,
    id2label: dict[int, str] | None = None,
    *,
    seed: int = 0,
    max_num_patches: int = 16,
    hidden_size: int = 32,
) -> Path:
    """SigLIP2 NaFlex: the processor keeps the aspect ratio and pads to `max_num_patches`."""
    vision = {
        **TINY_VISION,
        "hidden_size": hidden_size,
        "num_attention_heads": 2,
        "num_patches": max_num_patches,
    }
    del vision["image_size"]  # NaFlex has none: the patch grid follows each image
    config = Siglip2Config(vision_config=vision, text_config=TINY_TEXT, **_label_options(id2label))
    torch.manual_seed(seed)
    processor = Siglip2ImageProcessorPil(patch_size=8, max_num_patches=max_num_patches)
    return _save(path, Siglip2ForImageClassification(config), processor)


def build_vit_dir(path: Path, id2label: dict[int, str] | None = None, *, seed: int = 0) -> Path:
    """ViT: classifies from the CLS token; a fixed-size, bilinear processor."""
    config = ViTConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
        **_label_options(id2label),
    )
    torch.manual_seed(seed)
    processor = ViTImageProcessorPil(size={"height": 32, "width": 32})
    return _save(path, ViTForImageClassification(config), processor)


def build_convnext_dir(
    path: Path, id2label: dict[int, str] | None = None, *, seed: int = 0
) -> Path:
    """ConvNeXt: the processor resizes the shortest edge to 32 / crop_pct, then crops 32x32."""
    config = ConvNextConfig(
        num_channels=3,
        hidden_sizes=[8, 16],
        depths=[1, 1],
        num_stages=2,
        **_label_options(id2label),
    )
    torch.manual_seed(seed)
    processor = ConvNextImageProcessorPil(size={"shortest_edge": 32}, crop_pct=0.875)
    return _save(path, ConvNextForImageClassification(config), processor)


def build_swin_dir(path: Path, id2label: dict[int, str] | None = None, *, seed: int = 0) -> Path:
    """Swin: shifted windows; the hub's Swin checkpoints use the ViT processor."""
    config = SwinConfig(
        image_size=32,
        patch_size=4,
        embed_dim=8,
        depths=[1, 1],
        num_heads=[1, 2],
        window_size=4,
        **_label_options(id2label),
    )
    torch.manual_seed(seed)
    processor = ViTImageProcessorPil(size={"height": 32, "width": 32})
    return _save(path, SwinForImageClassification(config), processor)


def build_siglip3_dir(path: Path, *, seed: int = 0) -> Path:
    """SigLIP with three classes, two of them fake-like: AI / Deepfake / Real."""
    return build_model_dir(path, THREE_CLASSES, seed=seed)


FAMILIES: dict[str, Builder] = {
    "siglip": build_model_dir,
    "siglip-3class": build_siglip3_dir,
    "siglip2-naflex": build_siglip2_dir,
    "vit": build_vit_dir,
    "convnext": build_convnext_dir,
    "swin": build_swin_dir,
}
