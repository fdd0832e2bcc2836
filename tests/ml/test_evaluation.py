"""Discrimination and calibration metrics against values worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.evaluation import auprc, auroc, bootstrap_ci, brier, evaluate, plot_calibration, reliability_curve


def test_auroc_counts_ties_as_half() -> None:
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auroc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both outcomes"):
        auroc([1, 1], [0.2, 0.3])


def test_auprc_is_average_precision() -> None:
    # Ranked: 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1 (neg) -> (1/1 + 2/3) / 2.
    assert auprc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx((1 + 2 / 3) / 2)


def test_brier_and_reliability() -> None:
    assert brier([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    curve = reliability_curve([0, 0, 1, 1], [0.05, 0.15, 0.12, 0.95], bins=10)
    assert [b["count"] for b in curve] == [1, 2, 1]
    assert curve[1]["observed_rate"] == 0.5
    assert curve[1]["mean_predicted"] == pytest.approx(0.135)


def test_bootstrap_interval_brackets_the_estimate(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = labels * 0.3 + rng.random(300) * 0.7
    low, high = bootstrap_ci(auroc, labels, scores, resamples=200)
    assert low < auroc(labels, scores) < high
    result = evaluate(labels, scores, resamples=50)
    assert set(result.metrics) >= {"auroc", "auprc", "brier"}
    plot_calibration(result, tmp_path / "calibration.png", title="test")
    assert (tmp_path / "calibration.png").read_bytes()[:4] == b"\x89PNG"
