"""The scoring service the REST operation and the background scorer share.

:func:`shared_model` loads the shipped model once per process (TensorFlow's
import and the first trace take seconds, so never per request) and
:func:`assess_and_store` scores one Patient or Encounter through a repository
the caller owns. TensorFlow is imported only when the model is first needed.
"""

from __future__ import annotations

import gc
import threading
from typing import TYPE_CHECKING

import numpy as np

# Only light imports here: the REST layer imports this module while the
# fhir_server package initialises, so ml.scoring (which imports fhir_server) loads on first use.
from ml._risk_resources import DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from fhir_server.repository import SqlRepository, StoredResource
    from ml.model import TrainedModel

__all__ = ["DEFAULT_THRESHOLD", "SCORABLE_TYPES", "assess_and_store", "shared_model"]

#: Resource types ``$risk-assessment`` is defined on.
SCORABLE_TYPES = ("Patient", "Encounter")
_model: TrainedModel | None = None
_lock = threading.Lock()


def shared_model() -> TrainedModel:
    """Return the process's model, loading the shipped artifacts on first use."""
    global _model  # noqa: PLW0603 - one model per process, loaded on first use
    if _model is None:
        with _lock:
            if _model is None:
                from ml._tensorflow import tf
                from ml.model import load_model

                # One patient is a tiny graph: a single op thread avoids cross-core hand-offs that,
                # measured, cost more than they save and spread the latency tail. Only possible
                # before TensorFlow's runtime starts (a process that trained first keeps its pool).
                try:
                    tf.config.threading.set_intra_op_parallelism_threads(1)
                    tf.config.threading.set_inter_op_parallelism_threads(1)
                except RuntimeError:
                    pass
                model = load_model()
                sequence, static, summary = _warm_up_inputs(model)
                model.predict_arrays(sequence, static, summary)  # trace the serving graph now, not in a request
                # TensorFlow and Keras leave about 500,000 long-lived objects; without this, each
                # full garbage collection walks them all and stalls a request for about 0.3 s.
                # Frozen objects are still freed by reference counting; only the cycle scan skips them.
                gc.freeze()
                _model = model
    return _model


def _warm_up_inputs(model: TrainedModel) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    from ml.features import HOURS, VARIABLE_NAMES, PatientFeatures, model_inputs
    from ml.summary import summary_matrix

    empty = [PatientFeatures(values=np.full((HOURS, len(VARIABLE_NAMES)), np.nan, dtype=np.float32))]
    return (*model_inputs(empty, model.normalisation), summary_matrix(empty))


def assess_and_store(
    repo: SqlRepository, resource_type: str, resource_id: str, *, threshold: float = DEFAULT_THRESHOLD
) -> list[StoredResource]:
    """Score the Patient or Encounter and store NEWS2 and model RiskAssessments (and the Flag).

    :raises ValueError: if ``resource_type`` is not in :data:`SCORABLE_TYPES`.
    :raises fhir_server.errors.NotFound: if the resource does not exist.
    """
    if resource_type not in SCORABLE_TYPES:
        raise ValueError(f"`{resource_type}` cannot be risk-assessed.")
    from ml.scoring import store_score

    patient_id, encounter_id = (resource_id, None) if resource_type == "Patient" else (None, resource_id)
    _, stored = store_score(repo, shared_model(), patient_id=patient_id, encounter_id=encounter_id, threshold=threshold)
    return stored
