"""Train the mortality ensemble: seeded GRU-D networks and boosted trees.

Run it as ``fhir-server ml train``; see ``ml/MODEL_CARD.md`` for the run that
produced the shipped artifacts. Fitting uses the train split; the validation
split picks each network's best epoch, the trees' number of rounds and the
weight between networks and trees; the test split is never touched here.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ml._tensorflow import keras, tf
from ml.evaluation import auroc
from ml.features import Normalisation, model_inputs
from ml.model import ModelSettings, TrainedModel, build_model
from ml.summary import summary_matrix
from ml.trees import TreeOptions, fit_trees

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ml.dataset import Splits

__all__ = ["MODEL_VERSION", "TREE_WEIGHTS", "TrainingOptions", "train"]

#: Version label written into the artifacts and every RiskAssessment.
MODEL_VERSION = "2.0.0"
#: Tree weights tried on the validation split (0: networks only, 1: trees only).
TREE_WEIGHTS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)


@dataclass(frozen=True)
class TrainingOptions:
    """Optimisation settings."""

    seed: int = 2012
    #: Networks in the ensemble, seeded ``seed``, ``seed + 1``, ...
    networks: int = 3
    max_epochs: int = 30
    #: Epochs without a better validation AUROC before stopping.
    patience: int = 8
    batch_size: int = 64
    #: Peak learning rate; it decays to 0 over ``max_epochs`` along a cosine.
    learning_rate: float = 1e-3


def _labels(examples: Any) -> NDArray[np.float32]:
    return np.array([e.label for e in examples], dtype=np.float32)


def _fit_network(
    seed: int, options: TrainingOptions, settings: ModelSettings, inputs: tuple[Any, ...], verbose: int
) -> tuple[keras.Model, dict[str, Any]]:
    train_x, train_y, val_x, val_y = inputs
    keras.utils.set_random_seed(seed)
    steps = options.max_epochs * int(np.ceil(len(train_y) / options.batch_size))
    network = build_model(settings)
    network.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(options.learning_rate, steps)),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auroc")],
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_auroc", mode="max", patience=options.patience, restore_best_weights=True
    )
    history = network.fit(
        train_x, train_y, validation_data=(val_x, val_y), epochs=options.max_epochs,
        batch_size=options.batch_size, callbacks=[stopper], shuffle=True, verbose=verbose,
    )  # fmt: skip
    scores = history.history["val_auroc"]
    best = int(np.argmax(scores))
    run = {
        "seed": seed,
        "epochs_run": len(scores),
        "best_epoch": best + 1,
        "validation_auroc": round(float(scores[best]), 4),
    }
    if verbose:
        print(f"Network seed {seed}: best epoch {best + 1} of {len(scores)}, AUROC {scores[best]:.4f}", file=sys.stderr)
    return network, run


def train(
    splits: Splits,
    options: TrainingOptions,
    settings: ModelSettings | None = None,
    trees: TreeOptions | None = None,
    *,
    command: str = "",
    verbose: int = 2,
) -> TrainedModel:
    """Fit the networks and trees on ``splits.train``; choose on ``splits.validation``.

    :param command: the command line that ran this, recorded in the artifacts.
    :param verbose: Keras progress: 2 prints one line per epoch, 0 nothing.
    """
    settings = settings or ModelSettings()
    trees = trees or TreeOptions()
    # Same seed, same data, same machine type -> same weights.
    tf.config.experimental.enable_op_determinism()
    started = time.monotonic()
    train_f, val_f = [e.features for e in splits.train], [e.features for e in splits.validation]
    train_y, val_y = _labels(splits.train), _labels(splits.validation)
    normalisation = Normalisation.fit(train_f)
    inputs = (list(model_inputs(train_f, normalisation)), train_y, list(model_inputs(val_f, normalisation)), val_y)
    networks, runs = [], []
    for k in range(options.networks):
        network, run = _fit_network(options.seed + k, options, settings, inputs, verbose)
        networks.append(network)
        runs.append(run)
    ensemble = TrainedModel(networks, normalisation, ModelSettings(**{**settings.__dict__, "tree_weight": 0.0}), {})
    network_p = ensemble.predict(val_f)
    fitted, tree_run = fit_trees(summary_matrix(train_f), train_y, summary_matrix(val_f), val_y, trees)
    val_summary = summary_matrix(val_f)
    network_logit = np.log(network_p) - np.log1p(-network_p)
    weights = {w: auroc(val_y, (1 - w) * network_logit + w * fitted.raw_score(val_summary)) for w in TREE_WEIGHTS}
    chosen = max(weights, key=lambda w: weights[w])
    if verbose:
        print(f"Validation AUROC by tree weight: {weights}; chose {chosen}", file=sys.stderr)
    metadata = {
        "version": MODEL_VERSION,
        "seed": options.seed,
        "command": command,
        "options": options.__dict__,
        "tree_options": trees.__dict__,
        "training_seconds": round(time.monotonic() - started, 1),
        "network_runs": runs,
        "trees": tree_run,
        "validation_auroc_by_tree_weight": {str(w): round(v, 4) for w, v in weights.items()},
        "validation_auroc": round(weights[chosen], 4),
        "split_sizes": {"train": len(splits.train), "validation": len(splits.validation), "test": len(splits.test)},
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    final = ModelSettings(**{**settings.__dict__, "tree_weight": chosen})
    return TrainedModel(networks, normalisation, final, metadata, fitted)
