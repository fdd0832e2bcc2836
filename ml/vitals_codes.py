"""Codes and units used to find NEWS2 inputs in FHIR R4 Observations.

Observation.code is matched against :data:`VITAL_CODES`; a numeric value is
read from ``valueQuantity`` (or from the ``component`` carrying the code when
:attr:`VitalCode.panel` is set) and its ``code`` must be one of
:data:`ACCEPTED_UNITS` in UCUM. Consciousness is a coded answer
(:data:`ACVPU_ANSWERS`). Whether the patient is on supplemental oxygen comes
from an inhaled-oxygen observation read through :data:`OXYGEN_RULES`.

The choice of SpO2 scale 2 is *not* found in an Observation: the RCP requires a
competent clinical decision-maker to prescribe it (target range 88-92%, e.g.
hypercapnic respiratory failure), so it comes from configuration or the caller
as the ``spo2_scale_2`` flag of :func:`ml.news2.score_news2`.

References: FHIR R4 vital signs profiles (hl7.org/fhir/R4/observation-vitalsigns.html),
the US Core pulse oximetry profile (inhaled-oxygen components of SpO2), and the
UK Core / CareConnect ACVPU observation (SNOMED CT code for the ACVPU score).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ml._news2_chart import Acvpu, Parameter

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ACCEPTED_UNITS",
    "ACVPU_ANSWERS",
    "BP_PANEL",
    "FAHRENHEIT",
    "LOINC",
    "OXYGEN_RULES",
    "PULSE_OXIMETRY",
    "SNOMED_CT",
    "UCUM",
    "VITAL_CODES",
    "AcvpuAnswer",
    "OxygenRule",
    "VitalCode",
    "codes_for",
    "fahrenheit_to_celsius",
    "indicates_supplemental_oxygen",
]

LOINC = "http://loinc.org"
SNOMED_CT = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"

#: LOINC code of the blood pressure panel whose components carry systolic BP.
BP_PANEL = "85354-9"
#: LOINC code of pulse-oximetry SpO2, whose components may carry inhaled oxygen.
PULSE_OXIMETRY = "59408-5"


@dataclass(frozen=True)
class VitalCode:
    """One Observation code the server reads a NEWS2 input from."""

    #: The NEWS2 parameter this code supplies.
    parameter: Parameter
    #: Code system URI of :attr:`code`.
    system: str
    #: The code itself.
    code: str
    #: Display text, as the code system names it.
    display: str
    #: When set, the value is the ``component`` with :attr:`code` inside an
    #: Observation coded with this panel code, not the Observation's own value.
    panel: str | None = None


VITAL_CODES: tuple[VitalCode, ...] = (
    VitalCode(Parameter.RESPIRATION_RATE, LOINC, "9279-1", "Respiratory rate"),
    VitalCode(
        Parameter.SPO2,
        LOINC,
        PULSE_OXIMETRY,
        "Oxygen saturation in Arterial blood by Pulse oximetry",
    ),
    # The FHIR R4 base vital signs profile codes SpO2 as 2708-6 (a code LOINC
    # also uses for blood-gas SaO2), so servers following it send this one.
    VitalCode(Parameter.SPO2, LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
    VitalCode(Parameter.SYSTOLIC_BP, LOINC, "8480-6", "Systolic blood pressure"),
    VitalCode(
        Parameter.SYSTOLIC_BP,
        LOINC,
        "8480-6",
        "Systolic blood pressure",
        panel=BP_PANEL,
    ),
    VitalCode(Parameter.PULSE, LOINC, "8867-4", "Heart rate"),
    VitalCode(Parameter.TEMPERATURE, LOINC, "8310-5", "Body temperature"),
    # LOINC's AVPU question; its answers lack "new confusion", see ACVPU_ANSWERS.
    VitalCode(Parameter.CONSCIOUSNESS, LOINC, "67775-7", "Level of responsiveness"),
    # UK Core / CareConnect code the full ACVPU scale with this SNOMED CT observable.
    VitalCode(
        Parameter.CONSCIOUSNESS,
        SNOMED_CT,
        "1104441000000107",
        "ACVPU (Alert Confusion Voice Pain Unresponsive) scale score",
    ),
    VitalCode(Parameter.SUPPLEMENTAL_OXYGEN, LOINC, "3151-8", "Inhaled oxygen flow rate"),
    VitalCode(Parameter.SUPPLEMENTAL_OXYGEN, LOINC, "3150-0", "Inhaled oxygen concentration"),
    # US Core puts both as components of the pulse-oximetry Observation.
    VitalCode(
        Parameter.SUPPLEMENTAL_OXYGEN,
        LOINC,
        "3151-8",
        "Inhaled oxygen flow rate",
        panel=PULSE_OXIMETRY,
    ),
    VitalCode(
        Parameter.SUPPLEMENTAL_OXYGEN,
        LOINC,
        "3150-0",
        "Inhaled oxygen concentration",
        panel=PULSE_OXIMETRY,
    ),
)

#: UCUM codes accepted for each numeric NEWS2 parameter. Curly-brace
#: annotations are unit 1 in UCUM, so ``{beats}/min`` is the same unit as
#: ``/min`` and is accepted; anything else is refused rather than guessed at.
ACCEPTED_UNITS: Mapping[Parameter, frozenset[str]] = {
    Parameter.RESPIRATION_RATE: frozenset({"/min", "{breaths}/min"}),
    Parameter.SPO2: frozenset({"%"}),
    Parameter.SYSTOLIC_BP: frozenset({"mm[Hg]"}),
    Parameter.PULSE: frozenset({"/min", "{beats}/min"}),
    Parameter.TEMPERATURE: frozenset({"Cel", "[degF]"}),
}

#: UCUM code for degrees Fahrenheit; temperatures in it are converted to Celsius.
FAHRENHEIT = "[degF]"
_FAHRENHEIT_OFFSET = Decimal(32)
_FAHRENHEIT_PER_CELSIUS = Decimal(9) / Decimal(5)


def fahrenheit_to_celsius(value: Decimal) -> Decimal:
    """Convert a temperature from degrees Fahrenheit to degrees Celsius.

    :param value: the temperature in ``[degF]``, unrounded, so the result is
        rounded only once, to the chart's precision.
    """
    return (value - _FAHRENHEIT_OFFSET) / _FAHRENHEIT_PER_CELSIUS


@dataclass(frozen=True)
class AcvpuAnswer:
    """A coded Observation answer and the ACVPU level it stands for."""

    system: str
    code: str
    display: str
    level: Acvpu
    #: False when the code is borrowed from outside the question's own answer
    #: list, so a reviewer can see which mappings are our convention.
    normative: bool = True


ACVPU_ANSWERS: tuple[AcvpuAnswer, ...] = (
    AcvpuAnswer(LOINC, "LA9340-6", "Alert", Acvpu.ALERT),
    # 67775-7's answer list is AVPU only; LA6560-2 "Confused" (from the Glasgow
    # verbal list) is our stand-in for new confusion. The recorder must only
    # use it for confusion that is new, as NEWS2 requires.
    AcvpuAnswer(LOINC, "LA6560-2", "Confused", Acvpu.NEW_CONFUSION, normative=False),
    AcvpuAnswer(LOINC, "LA17108-4", "Verbal", Acvpu.VOICE),
    AcvpuAnswer(LOINC, "LA17107-6", "Painful", Acvpu.PAIN),
    AcvpuAnswer(LOINC, "LA9343-0", "Unresponsive", Acvpu.UNRESPONSIVE),
    # SNOMED CT answers seen with the UK ACVPU observable, listed only where a
    # terminology-server expansion confirmed the meaning. "Voice" and "new
    # confusion" are left out rather than guessed: such answers go unmapped, so
    # the score is withheld instead of being wrong.
    AcvpuAnswer(SNOMED_CT, "248234008", "Mentally alert", Acvpu.ALERT),
    AcvpuAnswer(SNOMED_CT, "450847001", "Responds to pain", Acvpu.PAIN),
    AcvpuAnswer(SNOMED_CT, "422768004", "Unresponsive", Acvpu.UNRESPONSIVE),
)


@dataclass(frozen=True)
class OxygenRule:
    """How to read "on supplemental oxygen?" from an inhaled-oxygen observation."""

    #: LOINC code of the observation.
    code: str
    #: The UCUM unit the value must be in.
    unit: str
    #: The value meaning room air; anything above it means supplemental oxygen.
    room_air: Decimal


#: Room air is 21% oxygen and needs no flow; above either means supplemental oxygen.
OXYGEN_RULES: tuple[OxygenRule, ...] = (
    OxygenRule("3151-8", "L/min", Decimal(0)),
    OxygenRule("3150-0", "%", Decimal(21)),
)


def indicates_supplemental_oxygen(code: str, value: Decimal | float, unit: str) -> bool | None:
    """Say whether an inhaled-oxygen reading means supplemental oxygen.

    :param code: the LOINC code of the reading (``3151-8`` or ``3150-0``).
    :param value: the reading.
    :param unit: its UCUM unit.
    :returns: ``True`` for oxygen, ``False`` for air, or ``None`` when the code
        or unit is not one of :data:`OXYGEN_RULES` or the value is negative or
        not finite, so the caller treats the oxygen status as unknown rather
        than guessing.
    """
    reading = Decimal(str(value))
    if not reading.is_finite() or reading < 0:
        return None
    for rule in OXYGEN_RULES:
        if rule.code == code and rule.unit == unit:
            return reading > rule.room_air
    return None


def codes_for(parameter: Parameter) -> tuple[VitalCode, ...]:
    """Return every :class:`VitalCode` that supplies ``parameter``.

    :param parameter: the NEWS2 parameter to look up.
    """
    return tuple(vital for vital in VITAL_CODES if vital.parameter is parameter)
