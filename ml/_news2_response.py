"""The RCP's recommended clinical response to a NEWS2 result, in our own words.

Source: Royal College of Physicians, *National Early Warning Score (NEWS) 2*,
2017, Chart 3 "NEWS thresholds and triggers" and Chart 4 "Clinical response to
the NEWS trigger thresholds". The RCP splits its lowest band in two (aggregate
0, and aggregate 1-4), so a response is chosen by aggregate *and* band rather
than by band alone. Local escalation policy may be stricter; this text is the
national minimum, paraphrased, and is not a substitute for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml._news2_chart import RiskBand


@dataclass(frozen=True)
class ClinicalResponse:
    """Monitoring frequency and escalation that the RCP recommends for a result."""

    #: The band this response belongs to.
    band: RiskBand
    #: What triggers it, e.g. "Aggregate score 1-4."
    trigger: str
    #: Minimum frequency of NEWS2 observations.
    monitoring: str
    #: Who must be told, who assesses the patient, and where care happens.
    escalation: str

    @property
    def text(self) -> str:
        """Return the trigger, monitoring and escalation as one paragraph."""
        return f"{self.trigger} {self.monitoring} {self.escalation}"


#: Aggregate 0.
ZERO_RESPONSE = ClinicalResponse(
    band=RiskBand.LOW,
    trigger="Aggregate score 0.",
    monitoring="Record observations at least every 12 hours.",
    escalation="No escalation is needed; carry on with routine NEWS2 monitoring.",
)

#: Aggregate 1-4 with no parameter scoring 3.
LOW_RESPONSE = ClinicalResponse(
    band=RiskBand.LOW,
    trigger="Aggregate score 1-4.",
    monitoring="Record observations at least every 4 to 6 hours.",
    escalation=(
        "Tell the registered nurse in charge, who must assess the patient and decide "
        "whether observations should be more frequent or care escalated."
    ),
)

#: Aggregate 1-4 with a red score (3) in any one parameter.
LOW_MEDIUM_RESPONSE = ClinicalResponse(
    band=RiskBand.LOW_MEDIUM,
    trigger="A score of 3 in a single parameter.",
    monitoring="Record observations at least every hour.",
    escalation=(
        "Urgent ward-based response: the registered nurse tells the medical team "
        "caring for the patient, who review the patient and decide whether care "
        "must be escalated."
    ),
)

#: Aggregate 5-6: the RCP's key threshold for an urgent response.
MEDIUM_RESPONSE = ClinicalResponse(
    band=RiskBand.MEDIUM,
    trigger="Aggregate score 5-6.",
    monitoring="Record observations at least every hour.",
    escalation=(
        "Urgent response: the registered nurse tells the medical team at once and "
        "asks for an urgent assessment by a clinician or team skilled in caring "
        "for acutely ill patients; care for the patient where they can be monitored."
    ),
)

#: Aggregate 7 or more: emergency response.
HIGH_RESPONSE = ClinicalResponse(
    band=RiskBand.HIGH,
    trigger="Aggregate score 7 or more.",
    monitoring="Monitor vital signs continuously.",
    escalation=(
        "Emergency response: the registered nurse tells the medical team at once "
        "(at least specialist registrar level); a team with critical-care skills, "
        "including advanced airway management, assesses the patient as an "
        "emergency; consider moving care to "
        "a level 2 or 3 facility (high-dependency unit or ICU)."
    ),
)

_BY_BAND = {
    RiskBand.LOW_MEDIUM: LOW_MEDIUM_RESPONSE,
    RiskBand.MEDIUM: MEDIUM_RESPONSE,
    RiskBand.HIGH: HIGH_RESPONSE,
}


def response_for(aggregate: int, band: RiskBand) -> ClinicalResponse:
    """Return the recommended clinical response for a complete NEWS2 result.

    :param aggregate: the NEWS2 total, which splits the low band at 0.
    :param band: the risk band from :func:`ml._news2_chart.risk_band`.
    """
    if band is RiskBand.LOW:
        return ZERO_RESPONSE if aggregate == 0 else LOW_RESPONSE
    return _BY_BAND[band]
