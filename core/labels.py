"""Which of a model's classes mean "fake" and which mean "real", read from `id2label`.

Hub classifiers name their classes freely (`Fake`/`Real`, `AI`/`Human`, `Artificial`/
`Deepfake`/`Realism`, ...) and order them freely, so an index is never trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import ModelError
from core.result import Scores

FAKE_WORDS = frozenset(
    {
        "fake",
        "ai",
        "synthetic",
        "generated",
        "artificial",
        "deepfake",
        "aigenerated",
        "gan",
        "diffusion",
        "manipulated",
        "spoof",
    }
)
REAL_WORDS = frozenset({"real", "realism", "authentic", "human", "genuine", "natural", "original"})


def _words(label: str) -> set[str]:
    lowered = label.lower()
    words = set(re.split(r"[^a-z0-9]+", lowered)) - {""}
    return words | {re.sub(r"[^a-z0-9]+", "", lowered)}


@dataclass(frozen=True, slots=True)
class LabelMap:
    """The model's class names by index, and which indices are fake and which real."""

    names: tuple[str, ...]
    fake: frozenset[int]
    real: frozenset[int]

    @classmethod
    def from_id2label(cls, id2label: Mapping[int, str], fake_label: str | None = None) -> LabelMap:
        names = tuple(str(id2label[i]) for i in sorted(int(k) for k in id2label))
        real = frozenset(i for i, n in enumerate(names) if _words(n) & REAL_WORDS)
        if fake_label is not None:
            fake = frozenset(i for i, n in enumerate(names) if n.lower() == fake_label.lower())
            if not fake:
                raise ModelError(
                    f"DEEPGUARD_MODEL__FAKE_LABEL {fake_label!r} is not one of the model's "
                    f"labels {names}"
                )
            real = real - fake
        else:
            fake = frozenset(i for i, n in enumerate(names) if _words(n) & FAKE_WORDS) - real
        if not fake and not real:
            raise ModelError(
                f"cannot tell which of the labels {names} means fake; "
                "set DEEPGUARD_MODEL__FAKE_LABEL to the fake class's name"
            )
        return cls(names=names, fake=fake, real=real)

    def scores(self, probabilities: Sequence[float]) -> Scores:
        """Fake probability is one minus the real class's, when the model has one."""
        classes = dict(zip(self.names, (float(p) for p in probabilities), strict=True))
        if self.real:
            fake = 1.0 - sum(float(probabilities[i]) for i in self.real)
        else:
            fake = sum(float(probabilities[i]) for i in self.fake)
        return Scores(fake_probability=min(1.0, max(0.0, fake)), classes=classes)
