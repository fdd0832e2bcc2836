"""The in-hospital mortality model: a GRU-D-style recurrent network in Keras.

Architecture (after Che et al., "Recurrent Neural Networks for Multivariate
Time Series with Missing Values", Sci Rep 2018, input decay only):

* **Input decay.** Each variable's carried-forward value decays towards the
  training mean (0 after standardisation) as the time since it was last seen
  grows: ``x_hat = x * (m + (1 - m) * gamma)``, ``gamma = exp(-max(0, w * delta + b))``,
  with one ``w`` and ``b`` per variable. A fresh value counts in full; a stale one
  counts less, as much less as the data says.
* A GRU reads ``[x_hat, mask, delta]`` over the 48 hourly bins; its last state is
  joined with a small dense encoding of the static descriptors, and a dense
  head gives the probability of in-hospital death.

The trained model ships as ``ml/artifacts/model.npz`` (weights) and
``ml/artifacts/model.json`` (architecture settings, normalisation statistics,
feature spec, seed, command). Weights are stored as plain arrays and the
architecture is rebuilt from the settings, so loading needs no pickled code.
TensorFlow is imported only here and in :mod:`ml.training`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml._tensorflow import keras
from ml.features import HOURS, STATIC_NAMES, VARIABLE_NAMES, Normalisation, model_inputs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from ml.features import PatientFeatures

__all__ = [
    "ARTIFACTS_DIR",
    "MODEL_NAME",
    "InputDecay",
    "ModelSettings",
    "TrainedModel",
    "build_model",
    "load_model",
]

#: Where the shipped model lives.
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
#: Name and version written into RiskAssessment.method.
MODEL_NAME = "physionet2012-grud-mortality"


@dataclass(frozen=True)
class ModelSettings:
    """Architecture settings, saved with the weights."""

    gru_units: int = 64
    static_units: int = 16
    head_units: int = 32
    dropout: float = 0.3


class InputDecay(keras.layers.Layer):  # type: ignore[misc]  # Keras ships no type hints
    """GRU-D input decay: stale carried-forward values shrink towards the mean."""

    def __init__(self, variables: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Number of time-series variables (named so as not to shadow Layer.variables).
        self.width = variables

    def build(self, input_shape: Any) -> None:
        self.decay_weight = self.add_weight(shape=(self.width,), initializer="zeros", name="decay_weight")
        self.decay_bias = self.add_weight(shape=(self.width,), initializer="zeros", name="decay_bias")

    def call(self, inputs: Any) -> Any:
        v = self.width
        carried, mask, since = inputs[..., :v], inputs[..., v : 2 * v], inputs[..., 2 * v :]
        gamma = keras.ops.exp(-keras.ops.relu(since * self.decay_weight + self.decay_bias))
        decayed = carried * (mask + (1.0 - mask) * gamma)
        return keras.ops.concatenate([decayed, mask, since], axis=-1)


def build_model(settings: ModelSettings) -> keras.Model:
    """Return the uncompiled network for :data:`ml.features` inputs."""
    variables = len(VARIABLE_NAMES)
    sequence = keras.Input((HOURS, 3 * variables), name="sequence")
    static = keras.Input((len(STATIC_NAMES),), name="static")
    hidden = keras.layers.GRU(settings.gru_units, name="gru")(InputDecay(variables, name="input_decay")(sequence))
    encoded = keras.layers.Dense(settings.static_units, activation="relu", name="static_dense")(static)
    joined = keras.layers.Dropout(settings.dropout)(keras.layers.Concatenate()([hidden, encoded]))
    head = keras.layers.Dense(settings.head_units, activation="relu", name="head")(joined)
    head = keras.layers.Dropout(settings.dropout)(head)
    output = keras.layers.Dense(1, activation="sigmoid", name="probability")(head)
    return keras.Model(inputs=[sequence, static], outputs=output, name="grud_mortality")


@dataclass
class TrainedModel:
    """A network with the statistics and metadata it was trained with."""

    network: keras.Model
    normalisation: Normalisation
    settings: ModelSettings
    #: Everything else in ``model.json``: seed, command, metrics, reference check.
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        """Return the model's name (RiskAssessment.method code)."""
        return MODEL_NAME

    @property
    def version(self) -> str:
        """Return the model's version label (from its training run)."""
        return str(self.metadata.get("version", "unversioned"))

    def predict(self, features: Sequence[PatientFeatures], batch_size: int = 256) -> NDArray[np.float64]:
        """Return the probability of in-hospital death for each patient."""
        if not features:
            return np.zeros(0)
        sequence, static = model_inputs(features, self.normalisation)
        probabilities = []
        for begin in range(0, len(features), batch_size):
            batch = [sequence[begin : begin + batch_size], static[begin : begin + batch_size]]
            # predict_on_batch runs a compiled graph: about 1.5 ms a call on
            # 2 cores, where calling the model eagerly takes about 150 ms.
            probabilities.append(np.asarray(self.network.predict_on_batch(batch), dtype=np.float64)[:, 0])
        return np.concatenate(probabilities)

    def save(self, directory: Path) -> None:
        """Write ``model.npz`` and ``model.json`` to ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        weights = {f"w{i:02d}": array for i, array in enumerate(self.network.get_weights())}
        np.savez_compressed(directory / "model.npz", **weights)
        spec = {
            **self.metadata,
            "name": MODEL_NAME,
            "settings": self.settings.__dict__,
            "features": {"hours": HOURS, "variables": list(VARIABLE_NAMES), "static": list(STATIC_NAMES)},
            "normalisation": self.normalisation.to_json(),
        }
        (directory / "model.json").write_text(json.dumps(spec, indent=2) + "\n")


def load_model(directory: Path = ARTIFACTS_DIR) -> TrainedModel:
    """Load a model saved by :meth:`TrainedModel.save`.

    :raises FileNotFoundError: if ``directory`` holds no model.
    :raises ValueError: if the model was trained on other features than this code extracts.
    """
    spec_file, weights_file = directory / "model.json", directory / "model.npz"
    if not spec_file.exists() or not weights_file.exists():
        raise FileNotFoundError(f"No trained model in `{directory}`: run `fhir-server ml train` first.")
    spec = json.loads(spec_file.read_text())
    if tuple(spec["features"]["static"]) != STATIC_NAMES or spec["features"]["hours"] != HOURS:
        raise ValueError(f"The model in `{directory}` was trained on other features than this code extracts.")
    settings = ModelSettings(**spec.pop("settings"))
    normalisation = Normalisation.from_json(spec.pop("normalisation"))
    network = build_model(settings)
    with np.load(weights_file) as stored:
        network.set_weights([stored[name] for name in sorted(stored.files)])
    spec.pop("features")
    spec.pop("name")
    return TrainedModel(network, normalisation, settings, spec)
