"""How each PhysioNet Challenge 2012 variable is coded in FHIR R4.

One :class:`ChallengeVariable` per challenge parameter gives its LOINC code,
UCUM unit, Observation category and the range of values we accept as real.

Choices worth knowing (also in ``ml/MODEL_CARD.md``):

* Invasive and non-invasive blood pressures share the generic LOINC codes
  (8480-6, 8462-4, 8478-0) so every consumer, NEWS2 included, finds them;
  ``Observation.method`` carries SNOMED CT 77938009 (invasive) or 17146006
  (non-invasive), and that is how the two are told apart again.
* FiO2 is given as a fraction (0.21-1.0) in the challenge; FHIR's inhaled
  oxygen concentration (LOINC 3150-0) is in ``%``, so it is multiplied by 100.
* Magnesium is coded as mass concentration (mg/dL, LOINC 19123-9): the
  challenge's documentation says mmol/L, but its values (median about 2.0)
  are the mg/dL values of the MIMIC II source; 2.0 mmol/L would be toxic.
* MechVent has no LOINC code we could confirm; it is an Observation with
  ``valueBoolean`` coded only in :data:`PARAMETER_SYSTEM`.
* Every Observation also carries a coding in :data:`PARAMETER_SYSTEM` whose code
  is the challenge's own parameter name, so a round trip is lossless.

Missing values: the challenge writes ``-1`` for "not recorded", and zeros that
cannot be real (a heart rate, a pH, a weight of 0) mean the same. Rather than
list these one by one, every value outside :attr:`ChallengeVariable.low` ..
:attr:`ChallengeVariable.high` is treated as missing; only urine output may be
0 (anuria is real). The ranges are generous physiological limits, so they drop
only impossible values (a pH of 735, a height of 462 cm, a temperature of
-17.8 °C, which is 0 °F converted).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from ml.vitals_codes import SNOMED_CT

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "INVASIVE",
    "NON_INVASIVE",
    "PARAMETER_SYSTEM",
    "RECORD_ID_SYSTEM",
    "STATIC_VARIABLES",
    "TIME_SERIES",
    "VARIABLES",
    "ChallengeVariable",
]

#: Identifier system of the challenge's RecordID (Patient.identifier).
RECORD_ID_SYSTEM = "https://physionet.org/challenge-2012/RecordID"
#: Code system whose codes are the challenge's parameter names (``HR``, ``GCS``...).
PARAMETER_SYSTEM = "https://physionet.org/challenge-2012/parameter"
#: SNOMED CT "Arterial pressure monitoring, invasive method".
INVASIVE = "77938009"
#: SNOMED CT "Arterial pressure monitoring, non-invasive method".
NON_INVASIVE = "17146006"

_VITAL = "vital-signs"
_LAB = "laboratory"


@dataclass(frozen=True)
class ChallengeVariable:
    """One challenge parameter and its FHIR coding."""

    #: The challenge's parameter name, e.g. ``"NISysABP"``.
    name: str
    #: LOINC code, or ``None`` when only :data:`PARAMETER_SYSTEM` codes it.
    loinc: str | None
    #: Display text of the concept.
    display: str
    #: UCUM unit code; ``None`` for a boolean value.
    unit: str | None
    #: Observation category code (``vital-signs`` or ``laboratory``).
    category: str
    #: Smallest value accepted as real, after :attr:`scale`.
    low: float
    #: Largest value accepted as real, after :attr:`scale`.
    high: float
    #: Factor from the challenge's unit to :attr:`unit`.
    scale: float = 1.0
    #: SNOMED CT method code for blood pressures (:data:`INVASIVE`...).
    method: str | None = None
    #: Model input on a log scale: lab values whose spread is multiplicative.
    log: bool = False
    #: How values in one hourly bin combine: ``mean``, or ``sum`` for volumes.
    combine: str = "mean"

    @property
    def method_system(self) -> str:
        """Return the code system of :attr:`method` (SNOMED CT)."""
        return SNOMED_CT


# Short names keep the table one row per variable.
_v = ChallengeVariable
_INV, _NONINV = INVASIVE, NON_INVASIVE

#: The 37 time-series variables, in the model's input order (alphabetical, as
#: the challenge lists them). Weight is both a series and a static descriptor.
TIME_SERIES: tuple[ChallengeVariable, ...] = (
    _v("ALP", "6768-6", "Alkaline phosphatase", "U/L", _LAB, 1, 5000, log=True),
    _v("ALT", "1742-6", "Alanine aminotransferase", "U/L", _LAB, 1, 20000, log=True),
    _v("AST", "1920-8", "Aspartate aminotransferase", "U/L", _LAB, 1, 20000, log=True),
    _v("Albumin", "1751-7", "Albumin", "g/dL", _LAB, 0.5, 7),
    _v("BUN", "3094-0", "Urea nitrogen", "mg/dL", _LAB, 1, 300, log=True),
    _v("Bilirubin", "1975-2", "Bilirubin total", "mg/dL", _LAB, 0.05, 80, log=True),
    _v("Cholesterol", "2093-3", "Cholesterol", "mg/dL", _LAB, 20, 1000),
    _v("Creatinine", "2160-0", "Creatinine", "mg/dL", _LAB, 0.05, 30, log=True),
    _v("DiasABP", "8462-4", "Diastolic blood pressure", "mm[Hg]", _VITAL, 5, 250, method=_INV),
    _v("FiO2", "3150-0", "Inhaled oxygen concentration", "%", _VITAL, 21, 100, scale=100),
    _v("GCS", "9269-2", "Glasgow coma score total", "{score}", "survey", 3, 15),
    _v("Glucose", "2345-7", "Glucose", "mg/dL", _LAB, 10, 2000, log=True),
    _v("HCO3", "1963-8", "Bicarbonate", "mmol/L", _LAB, 2, 60),
    _v("HCT", "20570-8", "Hematocrit", "%", _LAB, 5, 75),
    _v("HR", "8867-4", "Heart rate", "/min", _VITAL, 1, 300),
    _v("K", "2823-3", "Potassium", "mmol/L", _LAB, 1, 15),
    _v("Lactate", "32693-4", "Lactate", "mmol/L", _LAB, 0.1, 35, log=True),
    _v("MAP", "8478-0", "Mean blood pressure", "mm[Hg]", _VITAL, 10, 300, method=_INV),
    _v("MechVent", None, "Mechanical ventilation", None, "therapy", 1, 1),
    _v("Mg", "19123-9", "Magnesium", "mg/dL", _LAB, 0.2, 10),
    _v("NIDiasABP", "8462-4", "Diastolic blood pressure", "mm[Hg]", _VITAL, 5, 250, method=_NONINV),
    _v("NIMAP", "8478-0", "Mean blood pressure", "mm[Hg]", _VITAL, 10, 300, method=_NONINV),
    _v("NISysABP", "8480-6", "Systolic blood pressure", "mm[Hg]", _VITAL, 20, 300, method=_NONINV),
    _v("Na", "2951-2", "Sodium", "mmol/L", _LAB, 90, 200),
    _v("PaCO2", "2019-8", "Carbon dioxide partial pressure in arterial blood", "mm[Hg]", _LAB, 5, 150),
    _v("PaO2", "2703-7", "Oxygen partial pressure in arterial blood", "mm[Hg]", _LAB, 10, 800),
    _v("Platelets", "777-3", "Platelets", "10*3/uL", _LAB, 1, 3000, log=True),
    _v("RespRate", "9279-1", "Respiratory rate", "/min", _VITAL, 1, 100),
    _v("SaO2", "2708-6", "Oxygen saturation in arterial blood", "%", _LAB, 20, 100),
    _v("SysABP", "8480-6", "Systolic blood pressure", "mm[Hg]", _VITAL, 20, 300, method=_INV),
    _v("Temp", "8310-5", "Body temperature", "Cel", _VITAL, 20, 45),
    _v("TroponinI", "10839-9", "Troponin I cardiac", "ng/mL", _LAB, 0.001, 100, log=True),
    _v("TroponinT", "6598-7", "Troponin T cardiac", "ng/mL", _LAB, 0.001, 50, log=True),
    _v("Urine", "9187-6", "Urine output", "mL", "exam", 0, 10000, log=True, combine="sum"),
    _v("WBC", "6690-2", "Leukocytes", "10*3/uL", _LAB, 0.1, 500, log=True),
    _v("Weight", "29463-7", "Body weight", "kg", _VITAL, 20, 350),
    _v("pH", "2744-1", "pH of arterial blood", "[pH]", _LAB, 6.5, 8.0),
)

#: General descriptors stored as Observations at admission (Gender goes to
#: Patient.gender and ICUType to Encounter.serviceType instead). Age 90 means
#: "90 or older": the source capped ages to de-identify them.
STATIC_VARIABLES: tuple[ChallengeVariable, ...] = (
    _v("Age", "30525-0", "Age", "a", _VITAL, 15, 120),
    _v("Height", "8302-2", "Body height", "cm", _VITAL, 100, 230),
)

#: Every variable by its challenge name (Weight is the time-series entry).
VARIABLES: Mapping[str, ChallengeVariable] = MappingProxyType(
    {variable.name: variable for variable in (*TIME_SERIES, *STATIC_VARIABLES)}
)
