"""Discrimination and calibration metrics with bootstrap confidence intervals.

Pure NumPy, so the numbers can be checked without TensorFlow: AUROC (the
Mann-Whitney statistic, ties counted half), AUPRC (average precision, the
step-wise area scikit-learn reports), Brier score and a reliability curve in
equal-width probability bins. Confidence intervals are percentile bootstrap
intervals over patients resampled with replacement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Evaluation",
    "auprc",
    "auroc",
    "bootstrap_ci",
    "brier",
    "evaluate",
    "plot_calibration",
    "reliability_curve",
]


def auroc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Return the area under the ROC curve.

    :raises ValueError: if ``labels`` hold only one class.
    """
    y, s = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    positives = y.sum()
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUROC needs both outcomes among the labels.")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    # Tied scores share their mean rank, which counts each tie as half.
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def auprc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Return the average precision (area under the precision-recall curve)."""
    y, s = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    positives = y.sum()
    if positives == 0:
        raise ValueError("AUPRC needs at least one positive label.")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    # One threshold per distinct score: the last index of each run of ties.
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    true_positives = np.cumsum(y)[last]
    precision = true_positives / (last + 1)
    recall = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def brier(labels: ArrayLike, probabilities: ArrayLike) -> float:
    """Return the Brier score (mean squared error of the probabilities)."""
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(probabilities, dtype=np.float64)
    return float(np.mean((p - y) ** 2))


def reliability_curve(labels: ArrayLike, probabilities: ArrayLike, bins: int = 10) -> list[dict[str, float]]:
    """Return, per non-empty equal-width bin, mean predicted and observed rate and count."""
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(probabilities, dtype=np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    curve = []
    for index in range(bins):
        inside = which == index
        if inside.any():
            curve.append(
                {
                    "bin_low": index / bins,
                    "bin_high": (index + 1) / bins,
                    "mean_predicted": float(p[inside].mean()),
                    "observed_rate": float(y[inside].mean()),
                    "count": int(inside.sum()),
                }
            )
    return curve


def bootstrap_ci(
    metric: Callable[[NDArray[np.float64], NDArray[np.float64]], float],
    labels: ArrayLike,
    scores: ArrayLike,
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Return a percentile bootstrap confidence interval for ``metric``.

    Resamples in which the metric is undefined (one class only) are skipped.
    """
    y, s = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(y), len(y))
        try:
            values.append(metric(y[pick], s[pick]))
        except ValueError:
            continue
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model on one labelled set."""

    count: int
    positives: int
    #: ``{"auroc": {"value": .., "ci95": [lo, hi]}, ...}``
    metrics: dict[str, dict[str, Any]]
    reliability: list[dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        """Return the evaluation as JSON-ready data."""
        return {
            "count": self.count,
            "positives": self.positives,
            "metrics": self.metrics,
            "reliability": self.reliability,
        }


def evaluate(labels: ArrayLike, probabilities: ArrayLike, *, resamples: int = 1000, seed: int = 0) -> Evaluation:
    """Compute AUROC, AUPRC and Brier score with bootstrap 95 % CIs, and the reliability curve."""
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(probabilities, dtype=np.float64)
    metrics: dict[str, dict[str, Any]] = {}
    for name, metric in (("auroc", auroc), ("auprc", auprc), ("brier", brier)):
        low, high = bootstrap_ci(metric, y, p, resamples=resamples, seed=seed)
        metrics[name] = {"value": round(metric(y, p), 4), "ci95": [round(low, 4), round(high, 4)]}
    metrics["prevalence"] = {"value": round(float(y.mean()), 4)}
    metrics["mean_predicted"] = {"value": round(float(p.mean()), 4)}
    return Evaluation(len(y), int(y.sum()), metrics, reliability_curve(y, p))


def plot_calibration(evaluation: Evaluation, path: Path, *, title: str) -> None:
    """Draw the reliability curve (with a histogram of predictions) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    figure, (curve_axes, count_axes) = plt.subplots(
        2, 1, figsize=(5, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    points = evaluation.reliability
    curve_axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    curve_axes.plot(
        [b["mean_predicted"] for b in points], [b["observed_rate"] for b in points], marker="o", label="model"
    )
    metrics = evaluation.metrics
    curve_axes.set_title(
        f"{title}\nAUROC {metrics['auroc']['value']:.3f}, Brier {metrics['brier']['value']:.3f} (n={evaluation.count})",
        fontsize=9,
    )
    curve_axes.set_ylabel("observed in-hospital mortality")
    curve_axes.set_xlim(0, 1)
    curve_axes.set_ylim(0, 1)
    curve_axes.legend(loc="upper left", fontsize=8)
    count_axes.bar(
        [(b["bin_low"] + b["bin_high"]) / 2 for b in points], [b["count"] for b in points], width=0.09, color="tab:blue"
    )
    count_axes.set_xlabel("predicted probability")
    count_axes.set_ylabel("patients")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
