"""A tiny, randomly initialised SigLIP classifier saved the way the hub serves real ones."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import SiglipConfig, SiglipForImageClassification, SiglipImageProcessor

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


def build_model_dir(
    path: Path,
    id2label: dict[int, str] | None = None,
    *,
    vision: dict[str, int] | None = None,
    resample: int = 2,
    seed: int = 0,
) -> Path:
    """Save config, random weights and preprocessor config into `path` and return it."""
    labels = id2label or {0: "Real", 1: "Fake"}
    vision_config = {**TINY_VISION, **(vision or {})}
    config = SiglipConfig(
        vision_config=vision_config,
        text_config=TINY_TEXT,
        id2label=labels,
        label2id={name: index for index, name in labels.items()},
    )
    torch.manual_seed(seed)
    model = SiglipForImageClassification(config)
    model.save_pretrained(path)
    size = vision_config["image_size"]
    processor = SiglipImageProcessor(size={"height": size, "width": size}, resample=resample)
    processor.save_pretrained(path)
    return path
