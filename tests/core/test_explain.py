"""The map: exact on SigLIP and SigLIP2 for every backend, gradients elsewhere, a clear refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

from config import ModelSettings
from core.backends import load_classifier
from core.backends.cache import cache_folder
from core.backends.export import FP32_FILE, GRAPH, HEAD_FILE, OPSET
from core.classifier import HFClassifier
from core.errors import ExplanationUnavailable
from core.explain import WHOLE, Explainer, Method, PatchMap, contrast, covered_box
from core.labels import LabelMap
from tests.tiny_model import (
    build_convnext_dir,
    build_model_dir,
    build_siglip2_dir,
    build_vit_dir,
)

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

THREE = {0: "AI", 1: "Deepfake", 2: "Real"}
EXACT = 1e-5  # the bound for the grid against the model's own logit gap


def _pictures() -> list[Image.Image]:
    """Wide, tall and square, noise over gradients: the model reacts to each differently."""
    rng = np.random.default_rng(3)
    pictures = []
    for width, height in ((70, 40), (36, 90), (64, 64), (200, 120)):
        y, x = np.mgrid[0:height, 0:width]
        base = np.stack([x * 255 / width, y * 255 / height, 0 * x + 90], -1)
        noisy = base + rng.normal(0, 40, base.shape)
        pictures.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))
    return pictures


def _gap(logits: torch.Tensor, labels: dict[int, str]) -> float:
    """Fake minus real, worked out here from the names: the most likely fake class wins."""
    row = logits[0].double()
    fakes = [i for i, name in labels.items() if name != "Real"]
    real = next(i for i, name in labels.items() if name == "Real")
    return float(max(row[i] for i in fakes) - row[real])


def _reference(model_dir: Path, pixels: np.ndarray) -> torch.Tensor:
    """The model card's own forward pass, in float32, outside DeepGuard."""
    model = AutoModelForImageClassification.from_pretrained(model_dir).eval()
    with torch.no_grad():
        logits: torch.Tensor = model(
            pixel_values=torch.from_numpy(pixels["pixel_values"][None])
        ).logits
    return logits


@pytest.fixture(scope="module")
def three_class_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("siglip-3"), THREE, seed=4)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("explain-onnx")


def _load(model_dir: Path, backend: str, cache: Path) -> Any:
    settings = ModelSettings(
        name=str(model_dir),
        offline=True,
        device="cpu",
        threads=1,
        backend=backend,
        onnx_cache_dir=cache,
    )
    return load_classifier(settings)


class TestExactMap:
    @pytest.mark.parametrize("backend", ["torch", "onnx"])
    @pytest.mark.parametrize("classes", [2, 3])
    def test_grid_reconstructs_the_logit_gap(
        self, model_dir: Path, three_class_dir: Path, onnx_cache: Path, backend: str, classes: int
    ) -> None:
        """mean(grid) + bias is the model's own fake-minus-real logit gap within 1e-5."""
        folder, labels = (
            (model_dir, {0: "Real", 1: "Fake"}) if classes == 2 else (three_class_dir, THREE)
        )
        classifier = _load(folder, backend, onnx_cache)
        for picture in _pictures():
            pixels = classifier.prepare(picture)
            scores, patches = classifier.explain(pixels, picture.size)
            assert patches.method is Method.EXACT
            assert (patches.rows, patches.cols) == (4, 4)  # 32 px in patches of 8
            assert patches.gap == pytest.approx(
                _gap(_reference(folder, pixels), labels), abs=EXACT
            )
            assert scores.fake_probability == pytest.approx(
                classifier.predict([pixels])[0].fake_probability, abs=1e-6
            )

    @pytest.mark.parametrize("backend", ["torch-int8", "onnx-int8"])
    def test_int8_maps_are_exact_for_their_own_logits(
        self, model_dir: Path, onnx_cache: Path, backend: str
    ) -> None:
        """The head stays float under int8, so the map adds up to that backend's own gap."""
        classifier = _load(model_dir, backend, onnx_cache)
        for picture in _pictures():
            scores, patches = classifier.explain(classifier.prepare(picture), picture.size)
            fake = scores.classes["Fake"]
            gap = float(np.log(fake) - np.log(scores.classes["Real"]))
            assert patches.gap == pytest.approx(gap, abs=1e-4)
            assert scores.fake_probability == pytest.approx(fake)

    def test_the_map_is_the_head_applied_to_each_patch(self, classifier: HFClassifier) -> None:
        """Each cell is (w_fake - w_real) . h_i of its own patch, in row order; bias the rest."""
        model: Any = getattr(classifier, "_model")  # noqa: B009 (the test reads the weights)
        picture = _pictures()[0]
        pixels = classifier.prepare(picture)
        with torch.no_grad():
            hidden = model.vision_model(
                pixel_values=torch.from_numpy(pixels["pixel_values"][None])
            )
        tokens = hidden.last_hidden_state[0].double()
        weight = model.classifier.weight.detach().double()
        bias = model.classifier.bias.detach().double()
        expected = (tokens @ (weight[1] - weight[0])).reshape(4, 4).numpy()
        _, patches = classifier.explain(pixels, picture.size)
        np.testing.assert_allclose(patches.grid, expected, atol=1e-6)
        assert patches.bias == pytest.approx(float(bias[1] - bias[0]))

    def test_torch_and_onnx_draw_the_same_map(self, model_dir: Path, onnx_cache: Path) -> None:
        """Both engines give the same grid for the same picture."""
        exact, onnx = _load(model_dir, "torch", onnx_cache), _load(model_dir, "onnx", onnx_cache)
        picture = _pictures()[1]
        pixels = exact.prepare(picture)
        np.testing.assert_allclose(
            onnx.explain(pixels, picture.size)[1].grid,
            exact.explain(pixels, picture.size)[1].grid,
            atol=1e-4,
        )

    def test_explaining_is_deterministic(self, classifier: HFClassifier) -> None:
        """The same picture gives the same map twice."""
        picture = _pictures()[2]
        first = classifier.explain(classifier.prepare(picture), picture.size)[1]
        second = classifier.explain(classifier.prepare(picture), picture.size)[1]
        np.testing.assert_array_equal(first.grid, second.grid)
        assert first.bias == second.bias


@pytest.fixture(scope="module")
def siglip2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, HFClassifier]:
    """A NaFlex processor and a classifier over its model (every input the processor makes)."""
    folder = build_siglip2_dir(tmp_path_factory.mktemp("siglip2"), max_num_patches=25)
    processor = AutoImageProcessor.from_pretrained(folder)
    model = AutoModelForImageClassification.from_pretrained(folder).eval()
    labels = LabelMap.from_id2label(model.config.id2label)
    return processor, HFClassifier(processor, model, labels, torch.device("cpu"))


@pytest.fixture(scope="module")
def vit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_vit_dir(tmp_path_factory.mktemp("vit"))


@pytest.fixture(scope="module")
def convnext(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_convnext_dir(tmp_path_factory.mktemp("convnext"))


def test_exports_from_before_the_hidden_state_are_not_reused(
    model_dir: Path, tmp_path: Path
) -> None:
    """A cache folder of the logits-only layout is left alone: the model is exported afresh."""
    settings = ModelSettings(
        name=str(model_dir), offline=True, threads=1, backend="onnx", onnx_cache_dir=tmp_path
    )
    old = cache_folder(settings, (32, 32), OPSET, GRAPH - 1)
    old.mkdir(parents=True)
    (old / FP32_FILE).write_bytes(b"an old export, without last_hidden_state")
    classifier = load_classifier(settings)
    assert isinstance(classifier, Explainer)
    picture = _pictures()[0]
    assert classifier.explain(classifier.prepare(picture), picture.size)[1].rows == 4
    new = cache_folder(settings, (32, 32), OPSET, GRAPH)
    assert new != old
    assert (new / FP32_FILE).exists()
    assert (new / HEAD_FILE).exists()


class TestNaFlex:
    def test_grid_follows_spatial_shapes_and_is_exact(
        self, siglip2: tuple[Any, HFClassifier]
    ) -> None:
        """A SigLIP2 NaFlex map has its image's own patch grid and reconstructs the gap."""
        processor, classifier = siglip2
        model: Any = getattr(classifier, "_model")  # noqa: B009
        grids = set()
        for picture in _pictures():
            inputs = processor(images=picture, return_tensors="np")
            prepared = {name: np.asarray(value)[0] for name, value in inputs.items()}
            _, patches = classifier.explain(prepared, picture.size)
            rows, cols = (int(n) for n in prepared["spatial_shapes"])
            assert (patches.rows, patches.cols) == (rows, cols)
            assert patches.box == WHOLE  # NaFlex resizes the whole picture, never crops
            assert int(prepared["pixel_attention_mask"].sum()) == rows * cols
            with torch.no_grad():
                logits = model(**processor(images=picture, return_tensors="pt")).logits
            assert patches.gap == pytest.approx(_gap(logits, {0: "Real", 1: "Fake"}), abs=EXACT)
            grids.add((rows, cols))
        assert len(grids) > 2, "wide, tall and square pictures should get different grids"


class TestGradientMap:
    def test_vit_weighs_the_last_blocks_patch_tokens(self, vit: Path, onnx_cache: Path) -> None:
        """Grad-CAM on the tokens entering the last block, CLS dropped, in row order."""
        classifier = _load(vit, "torch", onnx_cache)
        picture = _pictures()[0]
        pixels = classifier.prepare(picture)
        scores, patches = classifier.explain(pixels, picture.size)
        assert patches.method is Method.GRADIENT
        assert (patches.rows, patches.cols) == (4, 4)
        model = AutoModelForImageClassification.from_pretrained(vit).eval()
        entering: list[torch.Tensor] = []
        model.vit.layers[-1].register_forward_pre_hook(
            lambda _m, args, kwargs: entering.append(args[0] if args else kwargs["hidden_states"]),
            with_kwargs=True,
        )
        source = torch.from_numpy(pixels["pixel_values"][None]).requires_grad_(True)
        logits = model(pixel_values=source).logits
        (slope,) = torch.autograd.grad(logits[0, 1] - logits[0, 0], entering[0])
        tokens, weights = entering[0][0, 1:].detach(), slope[0, 1:].sum(dim=0)
        np.testing.assert_allclose(patches.grid, (tokens @ weights).reshape(4, 4), atol=1e-5)
        assert patches.gap == pytest.approx(
            float((logits[0, 1] - logits[0, 0]).detach()), abs=1e-5
        )
        assert scores.fake_probability == pytest.approx(
            classifier.predict([pixels])[0].fake_probability, abs=1e-6
        )

    def test_convnext_maps_its_last_stage_onto_the_crop(
        self, convnext: Path, onnx_cache: Path
    ) -> None:
        """ConvNeXt's map is its last stage's grid, placed on the centre its processor crops."""
        classifier = _load(convnext, "torch", onnx_cache)
        picture = _pictures()[0]  # 70x40: shortest side to 36, then a 32x32 centre crop
        _, patches = classifier.explain(classifier.prepare(picture), picture.size)
        assert patches.method is Method.GRADIENT
        assert (patches.rows, patches.cols) == (4, 4)  # 32 px, stem /4, one downsampling /2
        assert np.isfinite(patches.grid).all()
        assert np.abs(patches.grid).max() > 0
        left, top, right, bottom = patches.box
        assert (right - left) == pytest.approx(32 / 63, abs=1e-6)
        assert (top, bottom) == pytest.approx((2 / 36, 34 / 36), abs=1e-6)
        again = classifier.explain(classifier.prepare(picture), picture.size)[1]
        np.testing.assert_array_equal(again.grid, patches.grid)

    def test_swin_weighs_its_pooled_last_stage(self) -> None:
        """Swin's map is its last stage's token grid, and adds up to the model's own gap."""
        from transformers import SwinConfig, SwinForImageClassification, ViTImageProcessorPil

        torch.manual_seed(0)
        config = SwinConfig(
            image_size=32,
            patch_size=4,
            embed_dim=8,
            depths=[1, 1],
            num_heads=[1, 2],
            window_size=4,
            id2label={0: "Real", 1: "Fake"},
            label2id={"Real": 0, "Fake": 1},
        )
        model = SwinForImageClassification(config).eval()
        processor = ViTImageProcessorPil(size={"height": 32, "width": 32})
        classifier = HFClassifier(
            processor, model, LabelMap.from_id2label(config.id2label), torch.device("cpu")
        )
        picture = _pictures()[3]
        pixels = classifier.prepare(picture)
        _, patches = classifier.explain(pixels, picture.size)
        assert patches.method is Method.GRADIENT
        assert (patches.rows, patches.cols) == (4, 4)  # 32 px / patch 4, merged once
        assert np.abs(patches.grid).max() > 0
        with torch.no_grad():
            logits = model(pixel_values=torch.from_numpy(pixels["pixel_values"][None])).logits
        assert patches.gap == pytest.approx(_gap(logits, {0: "Real", 1: "Fake"}), abs=1e-5)

    @pytest.mark.parametrize("backend", ["onnx", "torch-int8"])
    def test_without_gradients_other_families_say_so(
        self, vit: Path, onnx_cache: Path, backend: str
    ) -> None:
        """ONNX and int8 layers have no gradients: a clear refusal, not a wrong map."""
        classifier = _load(vit, backend, onnx_cache)
        picture = _pictures()[0]
        with pytest.raises(
            ExplanationUnavailable,
            match=r"^explanations are not available for this model and backend$",
        ):
            classifier.explain(classifier.prepare(picture), picture.size)


class TestPieces:
    def test_contrast_picks_the_most_likely_fake_against_real(self) -> None:
        """With several fake classes the most likely one is weighed against the real one."""
        labels = LabelMap.from_id2label(THREE)
        assert contrast(labels, [0.2, 1.5, -0.3]) == (1, 2)
        assert contrast(labels, [2.0, 1.5, -0.3]) == (0, 2)

    def test_contrast_without_a_real_class_weighs_the_rest(self) -> None:
        """A model that names only its fake classes has the others on the real side."""
        labels = LabelMap.from_id2label({0: "Fake", 1: "Photo", 2: "Scan"})
        assert contrast(labels, [0.0, 0.5, 2.0]) == (0, 2)

    def test_contrast_refuses_a_model_with_one_side(self) -> None:
        """Nothing to weigh against: the refusal says so."""
        labels = LabelMap.from_id2label({0: "Fake", 1: "AI"})
        with pytest.raises(ExplanationUnavailable, match="no fake and real classes"):
            contrast(labels, [0.0, 1.0])

    def test_covered_box(self) -> None:
        """Resizing processors see all of the picture; cropping ones a centred part."""
        resize = type("P", (), {"size": {"height": 224, "width": 224}, "do_resize": True})()
        assert covered_box(resize, (640, 480)) == WHOLE
        crop = type(
            "P",
            (),
            {
                "size": {"shortest_edge": 256},
                "do_resize": True,
                "do_center_crop": True,
                "crop_size": {"height": 224, "width": 224},
            },
        )()
        left, top, right, bottom = covered_box(crop, (512, 256))
        assert (left, right) == pytest.approx((0.5 - 224 / 1024, 0.5 + 224 / 1024))
        assert (top, bottom) == pytest.approx((1 / 16, 15 / 16))

    def test_classifiers_explain(
        self, classifier: HFClassifier, model_dir: Path, onnx_cache: Path
    ) -> None:
        """Both engines' classifiers are Explainers the Detector can call."""
        assert isinstance(classifier, Explainer)
        assert isinstance(_load(model_dir, "onnx", onnx_cache), Explainer)

    def test_patch_map_gap(self) -> None:
        """The gap is the grid's mean plus the bias."""
        patches = PatchMap(np.array([[1.0, 2.0], [3.0, 6.0]]), -1.0, Method.EXACT)
        assert (patches.rows, patches.cols, patches.gap) == (2, 2, 2.0)
