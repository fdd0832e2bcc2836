"""ADT messages the ADT tests write, in the style of v2.3, v2.5.1 and v2.8 senders."""

from __future__ import annotations

from adapters.hl7v2.mapping.datatypes import deterministic_id

VERSIONS = ("2.3", "2.5.1", "2.8")
AUTHORITY = "GENHOSP&1.2.3.4&ISO"


def pid(mrn: str = "4711", name: str = "Muster^Erika^M^^Dr.^^L", birth: str = "19640812") -> str:
    return (
        f"PID|1||{mrn}^^^{AUTHORITY}^MR||{name}||{birth}|F|||Hauptstr. 1^^Berlin^^10115^DE^H||^PRN^PH^^49^30^1234567\r"
    )


def pv1(visit: str = "V99", patient_class: str = "I", location: str = "STATION1^101^2^GENHOSP", end: str = "") -> str:
    visit_number = f"{visit}^^^{AUTHORITY}^VN" if visit else ""
    fields = ["PV1", "1", patient_class, location] + [""] * 15 + [visit_number] + [""] * 25
    fields[7] = "D100^Arzt^Anna^^^Dr."
    fields[44] = "20240301100000" if visit else ""
    return "|".join(fields) + (f"|{end}" if end else "") + "\r"


def message(event: str, body: str, version: str = "2.5.1", control: str = "", structure: str = "ADT_A01") -> str:
    msh9 = f"ADT^{event}" if version == "2.3" else f"ADT^{event}^{structure}"
    control = control or f"{event}-{version}"
    return (
        f"MSH|^~\\&|ADTAPP|GENHOSP|FHIR|FHIR|20240301101500+0100||{msh9}|{control}|P|{version}\r"
        f"EVN|{event}|20240301101500\r" + body
    )


def mrg(mrn: str = "", visit: str = "") -> str:
    prior = f"{mrn}^^^{AUTHORITY}^MR" if mrn else ""
    prior_visit = f"{visit}^^^{AUTHORITY}^VN" if visit else ""
    return f"MRG|{prior}||||{prior_visit}\r"


def patient_id(mrn: str = "4711") -> str:
    return deterministic_id("Patient", "urn:oid:1.2.3.4", mrn)


def encounter_id(visit: str = "V99") -> str:
    return deterministic_id("Encounter", "urn:oid:1.2.3.4", visit)
