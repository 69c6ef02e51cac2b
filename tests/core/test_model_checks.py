"""A model DeepGuard cannot run is refused while loading, with the setting to change named."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

from config import ImageLimits, ModelSettings, ProvenanceSettings, QueueSettings
from core.detector import Detector
from core.errors import ModelError
from tests.tiny_model import build_siglip2_dir, build_vit_dir


def _bare_backbone(folder: Path) -> Path:
    """A ViT saved without its classification head, as base checkpoints are."""
    config = ViTConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    ViTModel(config).save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def _edit_json(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, **changes}))


def _head_weights_missing(folder: Path) -> Path:
    """A backbone's weights under a config that claims a classifier (a mislabelled upload)."""
    _bare_backbone(folder)
    _edit_json(
        folder / "config.json",
        architectures=["ViTForImageClassification"],
        id2label={"0": "Real", "1": "Fake"},
        label2id={"Real": 0, "Fake": 1},
    )
    return folder


def _text_model(folder: Path) -> Path:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        vocab_size=100,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def _no_processor(folder: Path) -> Path:
    build_vit_dir(folder)
    (folder / "preprocessor_config.json").unlink()
    return folder


def _processor_fails(folder: Path) -> Path:
    """A size the processor accepts when loading and cannot resize to."""
    build_vit_dir(folder)
    _edit_json(folder / "preprocessor_config.json", size={"longest_edge": 32})
    return folder


def _processor_of_another_family(folder: Path) -> Path:
    """A ViT given a NaFlex processor: it makes patches the ViT cannot take."""
    build_vit_dir(folder)
    naflex = build_siglip2_dir(folder.parent / f"{folder.name}-naflex")
    shutil.copy(naflex / "preprocessor_config.json", folder / "preprocessor_config.json")
    return folder


def _generic_labels(folder: Path) -> Path:
    return build_vit_dir(folder, {0: "LABEL_0", 1: "LABEL_1"})


CASES: list[tuple[Callable[[Path], Path], str, str]] = [
    (
        _bare_backbone,
        "DEEPGUARD_MODEL__NAME",
        "saved as ViTModel, without an image-classification",
    ),
    (_text_model, "DEEPGUARD_MODEL__NAME", "'bert' model, which has no image-classification head"),
    (_head_weights_missing, "DEEPGUARD_MODEL__NAME", "lacks weights for classifier.bias"),
    (_no_processor, "DEEPGUARD_MODEL__NAME", "cannot load the image processor"),
    (_processor_fails, "DEEPGUARD_MODEL__NAME", "image processor of .* fails on a picture"),
    (_processor_of_another_family, "DEEPGUARD_MODEL__NAME", "cannot run on its own processor"),
    (_generic_labels, "DEEPGUARD_MODEL__FAKE_LABEL", "cannot tell which of the labels"),
]


@pytest.mark.parametrize(("build", "setting", "reason"), CASES, ids=[c[0].__name__ for c in CASES])
async def test_refused_at_start_up(
    tmp_path: Path, build: Callable[[Path], Path], setting: str, reason: str
) -> None:
    """Opening the Detector fails with one ModelError naming the setting; no image needed."""
    folder = build(tmp_path / "model")
    settings = ModelSettings(name=str(folder), offline=True, device="cpu", threads=1)
    with pytest.raises(ModelError, match=reason) as refused:
        async with Detector.open(settings, QueueSettings(), ImageLimits(), ProvenanceSettings()):
            pytest.fail("a model that cannot run was loaded")
    assert setting in str(refused.value)
    assert str(folder) in str(refused.value)


async def test_one_bad_model_refuses_the_ensemble(tmp_path: Path, model_dir: Path) -> None:
    """With several models, the one that cannot run is named and nothing starts."""
    bad = _generic_labels(tmp_path / "generic")
    settings = ModelSettings(name=f"{model_dir},{bad}", offline=True, device="cpu", threads=1)
    with pytest.raises(ModelError, match="DEEPGUARD_MODEL__FAKE_LABEL") as refused:
        async with Detector.open(settings, QueueSettings(), ImageLimits(), ProvenanceSettings()):
            pytest.fail("an ensemble with a model that cannot run was loaded")
    assert str(bad) in str(refused.value)
