"""Clinical risk scores computed from FHIR vital signs.

The NEWS2 early warning score lives in :mod:`ml.news2`; the codes and units
used to find its inputs in FHIR Observations live in :mod:`ml.vitals_codes`.
Everything here is pure Python: no database, no web framework.
"""

from __future__ import annotations

from ml.news2 import (
    DEFAULT_MAX_AGE,
    Acvpu,
    ClinicalResponse,
    Measurement,
    News2Result,
    Parameter,
    RiskBand,
    VitalSigns,
    score_news2,
)

__all__ = [
    "DEFAULT_MAX_AGE",
    "Acvpu",
    "ClinicalResponse",
    "Measurement",
    "News2Result",
    "Parameter",
    "RiskBand",
    "VitalSigns",
    "score_news2",
]
