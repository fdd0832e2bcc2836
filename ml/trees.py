"""Gradient-boosted trees on the summary features, evaluated in plain NumPy.

Training uses scikit-learn's ``HistGradientBoostingClassifier`` (only
:func:`fit_trees` imports it, and only ``fhir-server ml train`` calls that).
The fitted trees are then exported as flat arrays (feature, threshold,
children, where missing values go, leaf value) and stored in ``model.npz`` with
the network's weights, so serving needs neither scikit-learn nor pickled
objects: :meth:`TreeEnsemble.raw_score` walks all trees at once for a whole
batch, one NumPy step per tree level.

Export reads the fitted model's per-tree node table, which scikit-learn keeps
in a private attribute; :func:`fit_trees` therefore checks that the exported
arrays reproduce scikit-learn's own scores before returning, so a change in a
future scikit-learn fails training loudly instead of shipping wrong trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["TreeEnsemble", "TreeOptions", "fit_trees"]

_ARRAYS = ("feature", "threshold", "left", "right", "missing_left", "is_leaf", "value")


@dataclass(frozen=True)
class TreeOptions:
    """Boosting settings (chosen on the validation split; see the model card)."""

    learning_rate: float = 0.03
    max_leaf_nodes: int = 7
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    #: Most boosting rounds; :func:`fit_trees` keeps the best prefix on validation.
    max_iter: int = 600
    seed: int = 0


@dataclass
class TreeEnsemble:
    """Boosted trees as padded ``(trees, nodes)`` arrays plus the starting log-odds."""

    feature: NDArray[np.int32]
    threshold: NDArray[np.float64]
    left: NDArray[np.int32]
    right: NDArray[np.int32]
    missing_left: NDArray[np.bool_]
    is_leaf: NDArray[np.bool_]
    value: NDArray[np.float64]
    baseline: float
    #: Deepest path, i.e. how many steps :meth:`raw_score` takes.
    depth: int

    def raw_score(self, rows: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Return the log-odds for each row of summary features (``NaN`` = missing)."""
        count, trees = len(rows), len(self.feature)
        if count == 0 or trees == 0:
            return np.full(count, self.baseline)
        tree_index = np.arange(trees)[None, :]
        node = np.zeros((count, trees), dtype=np.int32)
        row_index = np.arange(count)[:, None]
        for _ in range(self.depth):
            feature = self.feature[tree_index, node]
            x = rows[row_index, feature]
            go_left = np.where(np.isnan(x), self.missing_left[tree_index, node], x <= self.threshold[tree_index, node])
            child = np.where(go_left, self.left[tree_index, node], self.right[tree_index, node])
            node = np.where(self.is_leaf[tree_index, node], node, child)
        return np.asarray(self.value[tree_index, node].sum(axis=1) + self.baseline, dtype=np.float64)

    def to_arrays(self, prefix: str) -> dict[str, NDArray[Any]]:
        """Return the arrays to store in ``model.npz``, names starting with ``prefix``."""
        arrays: dict[str, NDArray[Any]] = {f"{prefix}{name}": getattr(self, name) for name in _ARRAYS}
        arrays[f"{prefix}baseline_depth"] = np.array([self.baseline, self.depth], dtype=np.float64)
        return arrays

    @classmethod
    def from_arrays(cls, stored: Any, prefix: str) -> TreeEnsemble:
        """Rebuild from what :meth:`to_arrays` wrote (an ``np.load`` result or a dict)."""
        baseline, depth = stored[f"{prefix}baseline_depth"]
        fields = {name: np.asarray(stored[f"{prefix}{name}"]) for name in _ARRAYS}
        return cls(**fields, baseline=float(baseline), depth=int(depth))


def _export(predictors: list[Any], baseline: float) -> TreeEnsemble:
    nodes = [tree.nodes for tree in predictors]
    width = max(len(n) for n in nodes)

    def padded(field: str, dtype: Any) -> NDArray[Any]:
        out = np.zeros((len(nodes), width), dtype=dtype)
        for i, table in enumerate(nodes):
            out[i, : len(table)] = table[field]
        return out

    is_leaf = padded("is_leaf", np.bool_)
    # Padding nodes are never reached; marking them leaves keeps them inert anyway.
    for i, table in enumerate(nodes):
        is_leaf[i, len(table) :] = True
    return TreeEnsemble(
        feature=padded("feature_idx", np.int32),
        threshold=padded("num_threshold", np.float64),
        left=padded("left", np.int32),
        right=padded("right", np.int32),
        missing_left=padded("missing_go_to_left", np.bool_),
        is_leaf=is_leaf,
        value=padded("value", np.float64),
        baseline=baseline,
        depth=int(max(table["depth"].max() for table in nodes)),
    )


def fit_trees(
    train_rows: NDArray[np.float32],
    train_labels: NDArray[Any],
    validation_rows: NDArray[np.float32],
    validation_labels: NDArray[Any],
    options: TreeOptions,
) -> tuple[TreeEnsemble, dict[str, Any]]:
    """Fit on the training rows; keep the number of rounds with the best validation AUROC.

    :returns: the exported trees and what was chosen (rounds, validation AUROC).
    :raises RuntimeError: if the exported trees do not reproduce scikit-learn's scores.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ml.evaluation import auroc

    model = HistGradientBoostingClassifier(
        learning_rate=options.learning_rate,
        max_leaf_nodes=options.max_leaf_nodes,
        min_samples_leaf=options.min_samples_leaf,
        l2_regularization=options.l2_regularization,
        max_iter=options.max_iter,
        early_stopping=False,
        random_state=options.seed,
    )
    model.fit(train_rows, train_labels)
    # Staged scores, every 10 rounds: the validation curve is flat near its top.
    staged = list(model.staged_decision_function(validation_rows))
    candidates = range(9, len(staged), 10)
    best = max(candidates, key=lambda i: auroc(validation_labels, staged[i]))
    rounds = best + 1
    baseline = float(np.ravel(model._baseline_prediction)[0])
    trees = _export([stage[0] for stage in model._predictors[:rounds]], baseline)
    if not np.allclose(trees.raw_score(validation_rows), staged[best], atol=1e-6):
        raise RuntimeError("The exported trees do not reproduce scikit-learn's scores; check its version.")
    chosen = {"rounds": rounds, "validation_auroc": round(auroc(validation_labels, staged[best]), 4)}
    return trees, chosen
