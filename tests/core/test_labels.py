"""Which classes mean fake and real is read from id2label names, never from an index."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForImageClassification

from config import ModelSettings
from core.classifier import HFClassifier
from core.errors import ModelError
from core.labels import LabelMap
from tests.tiny_model import build_model_dir


class TestLabelMap:
    def test_card_labels(self) -> None:
        """Real/Fake: fake probability is one minus the real class's."""
        labels = LabelMap.from_id2label({0: "Real", 1: "Fake"})
        scores = labels.scores([0.3, 0.7])
        assert scores.fake_probability == pytest.approx(0.7)
        assert dict(scores.classes) == {"Real": 0.3, "Fake": 0.7}

    def test_reversed_order(self) -> None:
        """The same names at swapped indices give the same answer."""
        labels = LabelMap.from_id2label({0: "Fake", 1: "Real"})
        assert labels.scores([0.7, 0.3]).fake_probability == pytest.approx(0.7)

    @pytest.mark.parametrize(
        ("id2label", "probabilities", "fake"),
        [
            ({0: "AI", 1: "Human"}, [0.9, 0.1], 0.9),
            ({0: "authentic", 1: "ai_generated"}, [0.25, 0.75], 0.75),
            ({0: "REAL", 1: "FAKE"}, [0.6, 0.4], 0.4),
            ({0: "genuine", 1: "synthetic"}, [0.2, 0.8], 0.8),
            ({0: "Artificial", 1: "Deepfake", 2: "Realism"}, [0.2, 0.3, 0.5], 0.5),
            ({0: "deepfake", 1: "ai-art"}, [0.4, 0.6], 1.0),
        ],
    )
    def test_hub_label_names(
        self, id2label: dict[int, str], probabilities: list[float], fake: float
    ) -> None:
        """Names used by hub classifiers are recognised, three-class models included."""
        scores = LabelMap.from_id2label(id2label).scores(probabilities)
        assert scores.fake_probability == pytest.approx(fake)
        assert len(scores.classes) == len(id2label)

    def test_realism_is_not_ai(self) -> None:
        """'Realism' is the real class even though it contains neither word alone."""
        labels = LabelMap.from_id2label({0: "Artificial", 1: "Deepfake", 2: "Realism"})
        assert labels.real == frozenset({2})
        assert labels.fake == frozenset({0, 1})

    def test_unknown_names_are_refused(self) -> None:
        """Generic names cannot be guessed; the error names the setting that fixes it."""
        with pytest.raises(ModelError, match="DEEPGUARD_MODEL__FAKE_LABEL"):
            LabelMap.from_id2label({0: "LABEL_0", 1: "LABEL_1"})

    def test_override(self) -> None:
        """The fake_label setting picks the fake class by name."""
        labels = LabelMap.from_id2label({0: "LABEL_0", 1: "LABEL_1"}, fake_label="label_1")
        assert labels.scores([0.1, 0.9]).fake_probability == pytest.approx(0.9)

    def test_override_must_exist(self) -> None:
        """A fake_label that is not a class is a clear error, not a silent zero."""
        with pytest.raises(ModelError, match="not one of the model's labels"):
            LabelMap.from_id2label({0: "Real", 1: "Fake"}, fake_label="synthetic")


def test_reversed_model_matches_card_code(tmp_path: Path) -> None:
    """A model saved with {0: Fake, 1: Real} reports the Fake column as fake probability."""
    model_dir = build_model_dir(tmp_path / "reversed", {0: "Fake", 1: "Real"}, seed=3)
    classifier = HFClassifier.load(ModelSettings(name=str(model_dir), offline=True))
    image = Image.new("RGB", (40, 30), (200, 30, 90))
    processor = AutoImageProcessor.from_pretrained(model_dir)
    model = AutoModelForImageClassification.from_pretrained(model_dir)
    with torch.no_grad():
        expected = model(**processor(images=image, return_tensors="pt")).logits.softmax(-1)[0, 0]
    (scores,) = classifier.predict([classifier.prepare(image)])
    assert scores.fake_probability == pytest.approx(float(expected), abs=1e-5)
