"""The eval command's metrics agree with hand-computed values."""

from __future__ import annotations

import pytest

from core.evaluation import auc, evaluate, threshold_for_fpr


def test_metrics_by_hand() -> None:
    """Accuracy, precision, recall, F1 and the confusion matrix at 0.5."""
    report = evaluate(
        real=[0.1, 0.2, 0.6, 0.4], fake=[0.9, 0.7, 0.3, 0.8], threshold=0.5, target_fpr=0.25
    )
    c = report.confusion
    assert (c.true_fake, c.false_fake, c.true_real, c.false_real) == (3, 1, 3, 1)
    assert report.accuracy == pytest.approx(0.75)
    assert report.precision == pytest.approx(0.75)
    assert report.recall == pytest.approx(0.75)
    assert report.f1 == pytest.approx(0.75)


def test_auc_with_ties() -> None:
    """AUC is the chance a fake outranks a real, ties counting half."""
    assert auc([0.1, 0.2], [0.8, 0.9]) == 1.0
    assert auc([0.8, 0.9], [0.1, 0.2]) == 0.0
    assert auc([0.5], [0.5]) == 0.5
    assert auc([0.1, 0.4, 0.35, 0.8], [0.5, 0.9, 0.3, 0.6]) == pytest.approx(11 / 16)


def test_threshold_for_target_fpr() -> None:
    """The threshold flags at most the allowed share of real images, and no fewer than needed."""
    real = [i / 100 for i in range(100)]  # 0.00 .. 0.99
    threshold = threshold_for_fpr(real, 0.05)
    assert sum(p >= threshold for p in real) == 5
    assert threshold == pytest.approx(0.94, abs=1e-9)
    assert threshold_for_fpr(real, 0.0) > 0.99
    assert threshold_for_fpr(real, 1.0) == 0.0


def test_needs_both_classes() -> None:
    """An empty class is an error, not a division by zero."""
    with pytest.raises(ValueError, match="at least one"):
        evaluate([], [0.5], 0.5, 0.05)
