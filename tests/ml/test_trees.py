"""Boosted trees evaluated in NumPy, and their export from scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from ml.trees import TreeEnsemble, TreeOptions, fit_trees


def _stump() -> TreeEnsemble:
    # One tree: feature 0 <= 1.0 goes left (leaf -1), else right (leaf +2); missing goes right.
    return TreeEnsemble(
        feature=np.array([[0, 0, 0]], dtype=np.int32),
        threshold=np.array([[1.0, 0.0, 0.0]]),
        left=np.array([[1, 0, 0]], dtype=np.int32),
        right=np.array([[2, 0, 0]], dtype=np.int32),
        missing_left=np.array([[False, False, False]]),
        is_leaf=np.array([[False, True, True]]),
        value=np.array([[0.0, -1.0, 2.0]]),
        baseline=0.5,
        depth=1,
    )


def test_raw_score_walks_thresholds_and_missing_values() -> None:
    rows = np.array([[0.5], [1.0], [3.0], [np.nan]])
    assert list(_stump().raw_score(rows)) == [-0.5, -0.5, 2.5, 2.5]
    assert list(_stump().raw_score(np.zeros((0, 1)))) == []


def test_arrays_round_trip() -> None:
    stump = _stump()
    again = TreeEnsemble.from_arrays(stump.to_arrays("t_"), "t_")
    assert list(again.raw_score(np.array([[0.0], [5.0]]))) == [-0.5, 2.5]


def test_export_reproduces_scikit_learn() -> None:
    pytest.importorskip("sklearn", reason="scikit-learn (training only) is not installed")
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(600, 4)).astype(np.float32)
    rows[rng.random(rows.shape) < 0.1] = np.nan
    labels = ((np.nan_to_num(rows[:, 0]) + rng.normal(scale=0.5, size=600)) > 0.5).astype(int)
    # fit_trees raises if the exported arrays disagree with scikit-learn's own scores.
    trees, chosen = fit_trees(rows[:400], labels[:400], rows[400:], labels[400:], TreeOptions(max_iter=40))
    assert chosen["rounds"] % 10 == 0 and chosen["validation_auroc"] > 0.7
    assert trees.raw_score(rows[400:]).shape == (200,)
