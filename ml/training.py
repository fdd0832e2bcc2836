"""Train the mortality model with a fixed seed and early stopping.

Run it as ``fhir-server ml train``; see ``ml/MODEL_CARD.md`` for the run that
produced the shipped artifacts. Fitting uses the train split, early stopping
watches the validation split's AUROC, and the test split is never touched here.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ml._tensorflow import keras, tf
from ml.features import Normalisation, model_inputs
from ml.model import ModelSettings, TrainedModel, build_model

if TYPE_CHECKING:
    from ml.dataset import Splits

__all__ = ["MODEL_VERSION", "TrainingOptions", "train"]

#: Version label written into the artifacts and every RiskAssessment.
MODEL_VERSION = "1.0.0"


@dataclass(frozen=True)
class TrainingOptions:
    """Optimisation settings."""

    seed: int = 2012
    max_epochs: int = 60
    #: Epochs without a better validation AUROC before stopping.
    patience: int = 8
    batch_size: int = 64
    learning_rate: float = 1e-3


def _labels(examples: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.array([e.label for e in examples], dtype=np.float32)


def train(
    splits: Splits,
    options: TrainingOptions,
    settings: ModelSettings | None = None,
    *,
    command: str = "",
    verbose: int = 2,
) -> TrainedModel:
    """Fit normalisation and network on ``splits.train``; stop early on ``splits.validation``.

    :param command: the command line that ran this, recorded in the artifacts.
    :param verbose: Keras progress: 2 prints one line per epoch, 0 nothing.
    """
    settings = settings or ModelSettings()
    keras.utils.set_random_seed(options.seed)
    # Same seed, same data, same machine type -> same weights.
    tf.config.experimental.enable_op_determinism()
    started = time.monotonic()
    normalisation = Normalisation.fit([e.features for e in splits.train])
    train_inputs = model_inputs([e.features for e in splits.train], normalisation)
    validation_inputs = model_inputs([e.features for e in splits.validation], normalisation)
    network = build_model(settings)
    network.compile(
        optimizer=keras.optimizers.Adam(options.learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auroc"), keras.metrics.AUC(curve="PR", name="auprc")],
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_auroc", mode="max", patience=options.patience, restore_best_weights=True
    )
    history = network.fit(
        list(train_inputs),
        _labels(splits.train),
        validation_data=(list(validation_inputs), _labels(splits.validation)),
        epochs=options.max_epochs,
        batch_size=options.batch_size,
        callbacks=[stopper],
        shuffle=True,
        verbose=verbose,
    )
    scores = history.history["val_auroc"]
    best = int(np.argmax(scores))
    if verbose:
        print(f"Best epoch {best + 1} of {len(scores)}: validation AUROC {scores[best]:.4f}", file=sys.stderr)
    metadata = {
        "version": MODEL_VERSION,
        "seed": options.seed,
        "command": command,
        "options": options.__dict__,
        "training_seconds": round(time.monotonic() - started, 1),
        "epochs_run": len(scores),
        "best_epoch": best + 1,
        "validation_auroc": round(float(scores[best]), 4),
        "split_sizes": {
            "train": len(splits.train),
            "validation": len(splits.validation),
            "test": len(splits.test),
        },
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    return TrainedModel(network, normalisation, settings, metadata)
