"""Code tables the mapping needs: v2 tables to FHIR codes, after the v2-to-FHIR IG ConceptMaps.

Only the codes senders actually use are listed; an unknown code maps to the
FHIR default named at each use (or is left out where FHIR allows it).
"""

from __future__ import annotations

__all__ = [
    "ALLERGY_CATEGORY",
    "ALLERGY_SEVERITY",
    "ENCOUNTER_CLASS",
    "ENCOUNTER_STATUS",
    "GENDER",
    "INTERPRETATION",
    "NAME_USE",
    "OBSERVATION_STATUS",
    "REPORT_STATUS",
    "UCUM_UNITS",
    "code_system_uri",
]

#: HL7 table 0396 coding system names to FHIR code system URIs.
_SYSTEMS = {
    "LN": "http://loinc.org",
    "LOINC": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "UCUM": "http://unitsofmeasure.org",
    "ANS+": "http://unitsofmeasure.org",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "MVX": "http://terminology.hl7.org/CodeSystem/MVX",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "I10P": "http://www.cms.gov/Medicare/Coding/ICD10",
    "ICD10PCS": "http://www.cms.gov/Medicare/Coding/ICD10",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "NCIT": "http://ncimeta.nci.nih.gov",
    "CDCREC": "urn:oid:2.16.840.1.113883.6.238",
}


def code_system_uri(name: str) -> str | None:
    """The URI of a v2 coding system name (``LN``, ``HL70136``...); ``None`` for local ones."""
    key = name.strip().upper().replace(" ", "")
    if key in _SYSTEMS:
        return _SYSTEMS[key]
    if key.startswith("HL7") and key[3:].isdigit():
        return f"http://terminology.hl7.org/CodeSystem/v2-{key[3:].zfill(4)}"
    return None


#: HL7 table 0200 (name type) to FHIR name-use (IG ConceptMap table-hl70200-to-name-use).
NAME_USE = {
    "L": "official",
    "D": "usual",
    "M": "maiden",
    "N": "nickname",
    "S": "anonymous",
    "TEMP": "temp",
    "BAD": "old",
    "NOUSE": "old",
}

#: HL7 table 0001 (administrative sex) to FHIR administrative-gender.
GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "N": "other", "U": "unknown"}

#: HL7 table 0085 (observation result status) to FHIR observation-status.
OBSERVATION_STATUS = {
    "C": "corrected",
    "D": "entered-in-error",
    "F": "final",
    "I": "registered",
    "P": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "U": "final",
    "W": "entered-in-error",
    "X": "cancelled",
}

#: HL7 table 0123 (result status) to FHIR diagnostic-report-status.
REPORT_STATUS = {
    "O": "registered",
    "I": "registered",
    "S": "registered",
    "A": "partial",
    "P": "preliminary",
    "C": "corrected",
    "R": "partial",
    "F": "final",
    "X": "cancelled",
}

#: HL7 table 0004 (patient class) to v3 ActCode for Encounter.class.
ENCOUNTER_CLASS = {
    "E": ("EMER", "emergency"),
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "P": ("PRENC", "pre-admission"),
    "R": ("AMB", "ambulatory"),
    "B": ("IMP", "inpatient encounter"),
}

#: HL7 table 0003 (event type) to Encounter.status: the IG's ConceptMap table-hl70003-to-encounter-status
#: (A01-A05, A08, A11, A13); the other events are this server's choice, listed in docs/hl7v2-mappings.md.
#: ``None``: the event does not change the status (the stored one is kept; PV1-45 still means finished).
ENCOUNTER_STATUS: dict[str, str | None] = {
    # from the IG
    "A01": "in-progress", "A02": "in-progress", "A03": "finished", "A04": "planned", "A05": "planned",
    "A08": None,  # IG: unknown; kept as the stored status, unknown only for a visit not yet stored
    "A11": "cancelled", "A13": "in-progress",
    # this server's choice
    "A06": "in-progress", "A07": "in-progress", "A14": "planned", "A21": "onleave", "A22": "in-progress",
    "A23": "entered-in-error", "A27": "cancelled", "A38": "cancelled", "A52": "in-progress", "A53": "onleave",
}  # fmt: skip

#: HL7 table 0127 (allergen type) to AllergyIntolerance.category.
ALLERGY_CATEGORY = {
    "DA": "medication", "MA": "medication", "FA": "food", "EA": "environment", "AA": "environment",
    "PA": "environment", "LA": "environment", "MC": "medication",
}  # fmt: skip

#: HL7 table 0128 (allergy severity) to AllergyIntolerance.reaction.severity.
ALLERGY_SEVERITY = {"SV": "severe", "MO": "moderate", "MI": "mild"}

#: HL7 table 0078 abnormal flags that are also v3 ObservationInterpretation codes.
INTERPRETATION = {
    code: code
    for code in ("L", "H", "LL", "HH", "N", "A", "AA", "S", "R", "I", "U", "D", "B", "W", "<", ">", "NEG", "POS", "IND")
}

#: Unit strings senders write to their UCUM code, for OBX-6 without a coding system.
UCUM_UNITS = {
    unit: unit
    for unit in (
        "%", "g", "mg", "ug", "kg", "g/L", "g/dL", "mg/dL", "mg/L", "ug/L", "ng/mL", "pg/mL",
        "mmol/L", "umol/L", "nmol/L", "pmol/L", "mol/L", "U/L", "mU/L", "mIU/L", "[IU]/L",
        "mL", "L", "dL", "fL", "pg", "mm[Hg]", "cm", "mm", "m", "s", "min", "h", "d",
        "/min", "10*3/uL", "10*6/uL", "10*9/L", "10*12/L", "Cel", "[degF]", "kg/m2", "{ratio}",
    )
}  # fmt: skip
UCUM_UNITS.update({
    "µmol/L": "umol/L", "μmol/L": "umol/L", "µg/L": "ug/L", "mcg/L": "ug/L", "grams": "g",
    "mmHg": "mm[Hg]", "bpm": "/min", "beats/min": "/min", "degC": "Cel", "IU/L": "[IU]/L",
    "K/uL": "10*3/uL", "x10E3/uL": "10*3/uL", "M/uL": "10*6/uL", "{Ratio}": "{ratio}",
    "sec": "s", "hr": "h", "kg/m^2": "kg/m2", "copies/µL": "{copies}/uL",
})  # fmt: skip
