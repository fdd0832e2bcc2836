"""A model that answers like :class:`ml.model.TrainedModel` without TensorFlow, for fast scoring tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class StandInModel:
    """Predicts 0.5 for everyone."""

    name = "stand-in"
    version = "0"

    def predict(self, features: Sequence[Any]) -> np.ndarray[Any, Any]:
        return np.full(len(features), 0.5)
