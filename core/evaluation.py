"""The model card's metrics for a labelled folder, and the threshold a community can live with.

"Fake" is the positive class throughout: precision is the share of flagged images that were
really fake, recall the share of fakes that were flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Confusion:
    true_fake: int
    false_fake: int  # real images flagged as fake: the costly mistake for a community
    true_real: int
    false_real: int


@dataclass(frozen=True, slots=True)
class Report:
    count: int
    threshold: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    auc: float
    confusion: Confusion
    target_fpr: float
    threshold_at_target: float
    recall_at_target: float
    fpr_at_target: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def evaluate(
    real: Sequence[float], fake: Sequence[float], threshold: float, target_fpr: float
) -> Report:
    """Metrics for fake probabilities of known-real and known-fake images."""
    if not real or not fake:
        raise ValueError("evaluation needs at least one real and one fake image")
    confusion = confusion_at(real, fake, threshold)
    precision = _ratio(confusion.true_fake, confusion.true_fake + confusion.false_fake)
    recall = _ratio(confusion.true_fake, len(fake))
    at_target = threshold_for_fpr(real, target_fpr)
    return Report(
        count=len(real) + len(fake),
        threshold=threshold,
        accuracy=(confusion.true_fake + confusion.true_real) / (len(real) + len(fake)),
        precision=precision,
        recall=recall,
        f1=_ratio(2 * precision * recall, precision + recall),
        auc=auc(real, fake),
        confusion=confusion,
        target_fpr=target_fpr,
        threshold_at_target=at_target,
        recall_at_target=_ratio(sum(p >= at_target for p in fake), len(fake)),
        fpr_at_target=_ratio(sum(p >= at_target for p in real), len(real)),
    )


def confusion_at(real: Sequence[float], fake: Sequence[float], threshold: float) -> Confusion:
    flagged_real = sum(p >= threshold for p in real)
    flagged_fake = sum(p >= threshold for p in fake)
    return Confusion(
        true_fake=flagged_fake,
        false_fake=flagged_real,
        true_real=len(real) - flagged_real,
        false_real=len(fake) - flagged_fake,
    )


def auc(real: Sequence[float], fake: Sequence[float]) -> float:
    """Probability that a random fake scores above a random real (ties count half)."""
    ranked = sorted([(p, 0) for p in real] + [(p, 1) for p in fake])
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        mean_rank = (index + 1 + end) / 2  # ties share the mean of their 1-based ranks
        rank_sum += mean_rank * sum(label for _, label in ranked[index:end])
        index = end
    n_fake, n_real = len(fake), len(real)
    return (rank_sum - n_fake * (n_fake + 1) / 2) / (n_fake * n_real)


def threshold_for_fpr(real: Sequence[float], target_fpr: float) -> float:
    """The lowest threshold that flags at most `target_fpr` of the real images."""
    allowed = math.floor(target_fpr * len(real) + 1e-9)
    ordered = sorted(real, reverse=True)
    if allowed >= len(ordered):
        return 0.0
    # Flagging is `p >= threshold`, so step just above the first real image that must pass.
    return min(1.0, math.nextafter(ordered[allowed], math.inf))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
