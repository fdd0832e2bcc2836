"""The in-hospital mortality model: GRU-D-style networks in Keras plus boosted trees.

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

The shipped model is an ensemble: several such networks trained with different
seeds, and gradient-boosted trees on per-variable summary statistics
(:mod:`ml.summary`, :mod:`ml.trees`). Their log-odds are averaged (networks
first, then networks and trees with the weight chosen on the validation split).
Serving runs the networks through one ``tf.function`` with a fixed input
signature (traced once, no Keras ``predict`` loop) and the trees in NumPy.

The trained model ships as ``ml/artifacts/model.npz`` (weights) and
``ml/artifacts/model.json`` (architecture settings, normalisation statistics,
feature spec, seed, command). Weights are stored as plain arrays and the
architecture is rebuilt from the settings, so loading needs no pickled code.
TensorFlow is imported only here, in :mod:`ml.training` and in :mod:`ml._tensorflow`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml._tensorflow import keras, tf
from ml.features import HOURS, STATIC_NAMES, VARIABLE_NAMES, Normalisation, model_inputs
from ml.summary import SUMMARY_NAMES, summary_matrix
from ml.trees import TreeEnsemble

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
    "serving_function",
]

#: Where the shipped model lives.
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
#: Name and version written into RiskAssessment.method.
MODEL_NAME = "physionet2012-mortality-ensemble"


@dataclass(frozen=True)
class ModelSettings:
    """Architecture settings, saved with the weights."""

    gru_units: int = 64
    static_units: int = 16
    head_units: int = 32
    dropout: float = 0.3
    #: Weight of the trees' log-odds in the final average (networks get the rest).
    tree_weight: float = 0.5


class InputDecay(keras.layers.Layer):
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
    # The 48 steps are fixed, so the GRU is unrolled into straight-line ops: no
    # while-loop per call, about 3x faster for one patient and for batches alike.
    gru = keras.layers.GRU(settings.gru_units, unroll=True, name="gru")
    hidden = gru(InputDecay(variables, name="input_decay")(sequence))
    encoded = keras.layers.Dense(settings.static_units, activation="relu", name="static_dense")(static)
    joined = keras.layers.Dropout(settings.dropout)(keras.layers.Concatenate()([hidden, encoded]))
    head = keras.layers.Dense(settings.head_units, activation="relu", name="head")(joined)
    head = keras.layers.Dropout(settings.dropout)(head)
    output = keras.layers.Dense(1, activation="sigmoid", name="probability")(head)
    return keras.Model(inputs=[sequence, static], outputs=output, name="grud_mortality")


def _logit(p: Any) -> Any:
    return tf.math.log(p) - tf.math.log1p(-p)


def serving_function(networks: Sequence[keras.Model]) -> Any:
    """Return a ``tf.function`` giving the networks' mean log-odds, traced once for any batch size."""
    signature = [
        tf.TensorSpec((None, HOURS, 3 * len(VARIABLE_NAMES)), tf.float32, name="sequence"),
        tf.TensorSpec((None, len(STATIC_NAMES)), tf.float32, name="static"),
    ]

    @tf.function(input_signature=signature)
    def serve(sequence: Any, static: Any) -> Any:
        # Clipping keeps a saturated sigmoid from giving an infinite logit.
        outputs = [_logit(tf.clip_by_value(n([sequence, static], training=False), 1e-7, 1 - 1e-7)) for n in networks]
        return tf.add_n(outputs)[:, 0] / len(outputs)

    return serve


@dataclass
class TrainedModel:
    """Networks and trees with the statistics and metadata they were trained with."""

    networks: list[keras.Model]
    normalisation: Normalisation
    settings: ModelSettings
    #: Everything else in ``model.json``: seed, command, metrics, reference check.
    metadata: dict[str, Any]
    #: Boosted trees on summary features; ``None`` for a networks-only model.
    trees: TreeEnsemble | None = None
    _serve: Any = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        """Return the model's name (RiskAssessment.method code)."""
        return MODEL_NAME

    @property
    def version(self) -> str:
        """Return the model's version label (from its training run)."""
        return str(self.metadata.get("version", "unversioned"))

    def predict(self, features: Sequence[PatientFeatures]) -> NDArray[np.float64]:
        """Return the probability of in-hospital death for each patient."""
        if not features:
            return np.zeros(0)
        sequence, static = model_inputs(features, self.normalisation)
        return self.predict_arrays(sequence, static, summary_matrix(features) if self.trees is not None else None)

    def predict_arrays(
        self,
        sequence: NDArray[np.float32],
        static: NDArray[np.float32],
        summary: NDArray[np.float32] | None = None,
    ) -> NDArray[np.float64]:
        """Return probabilities from precomputed inputs.

        :param sequence: and ``static``: from :func:`ml.features.model_inputs`.
        :param summary: from :func:`ml.summary.summary_matrix`; without it the trees are left out.
        """
        if self._serve is None:
            self._serve = serving_function(self.networks)
        logit = np.asarray(self._serve(sequence, static), dtype=np.float64)
        if self.trees is not None and summary is not None:
            weight = self.settings.tree_weight
            logit = (1 - weight) * logit + weight * self.trees.raw_score(summary)
        return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=np.float64)

    def save(self, directory: Path) -> None:
        """Write ``model.npz`` and ``model.json`` to ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            f"n{k}_w{i:02d}": array
            for k, network in enumerate(self.networks)
            for i, array in enumerate(network.get_weights())
        }
        if self.trees is not None:
            arrays.update(self.trees.to_arrays("trees_"))
        np.savez_compressed(directory / "model.npz", **arrays)
        spec = {
            **self.metadata,
            "name": MODEL_NAME,
            "settings": self.settings.__dict__,
            "networks": len(self.networks),
            "features": {
                "hours": HOURS, "variables": list(VARIABLE_NAMES), "static": list(STATIC_NAMES),
                "summary": list(SUMMARY_NAMES) if self.trees is not None else [],
            },
            "normalisation": self.normalisation.to_json(),
        }  # fmt: skip
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
    shape = spec.pop("features")
    summary = tuple(shape.get("summary") or ())
    if tuple(shape["static"]) != STATIC_NAMES or shape["hours"] != HOURS or summary not in ((), SUMMARY_NAMES):
        raise ValueError(f"The model in `{directory}` was trained on other features than this code extracts.")
    settings = ModelSettings(**spec.pop("settings"))
    normalisation = Normalisation.from_json(spec.pop("normalisation"))
    networks = []
    with np.load(weights_file) as stored:
        for k in range(int(spec.pop("networks"))):
            network = build_model(settings)
            network.set_weights([stored[name] for name in sorted(stored.files) if name.startswith(f"n{k}_w")])
            networks.append(network)
        trees = TreeEnsemble.from_arrays(stored, "trees_") if summary else None
    spec.pop("name")
    return TrainedModel(networks, normalisation, settings, spec, trees)
