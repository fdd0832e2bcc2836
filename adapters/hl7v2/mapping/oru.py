"""ORU^R01 (unsolicited observation result) to Patient, DiagnosticReport and Observations.

v2-to-FHIR IG message ORU_R01: each OBR becomes a DiagnosticReport whose
``result`` lists the Observations of the OBX segments that follow it; NTE
after an OBX becomes an Observation note.

Ids: with a filler order number (OBR-3, else ORC-3) a report and its results
are keyed on it, so a corrected result (OBX-11 ``C``) sent in a later message
replaces the original; without one they are keyed on the message (sender and
MSH-10) and the OBR/OBX position.
"""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import codeable_concept, deterministic_id, identifier
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.mapping.observation import map_observation
from adapters.hl7v2.mapping.patient import map_patient
from adapters.hl7v2.mapping.terminology import REPORT_STATUS
from adapters.hl7v2.parse import Segment

__all__ = ["map_oru"]


class _Report:
    """One OBR being mapped and the Observations collected for it."""

    def __init__(self, context: MessageContext, obr: Segment, orc: Segment | None, subject: str) -> None:
        self.context, self.obr, self.subject = context, obr, subject
        d = obr.delimiters
        filler_raw = obr.raw(3) or (orc.raw(3) if orc else "")
        self.filler = identifier(filler_raw, d, type_code="FILL")
        code = codeable_concept(obr.raw(4), d)
        if code is None:
            raise MappingError(
                "OBR-4 (universal service identifier) is empty, so the report has no code.",
                "OBR",
                obr.sequence,
                4,
            )
        self.code = code
        if self.filler:
            self.id = deterministic_id(
                "DiagnosticReport", self.filler.get("system", ""), self.filler["value"], obr.get(4)
            )
        else:
            self.id = context.scoped_id("DiagnosticReport", "OBR", str(obr.sequence))
        self.effective = context.datetime(obr, 7)
        self.results: list[dict[str, Any]] = []
        self._seen: dict[tuple[str, ...], int] = {}

    def observation_id(self, obx: Segment) -> str:
        """A deterministic id; a counter keeps repeated OBX keys in one message apart."""
        if self.filler:
            key = (
                "filler",
                self.filler.get("system", ""),
                self.filler["value"],
                self.obr.get(4),
                obx.get(3),
                obx.get(4),
            )
        else:
            key = ("OBR", str(self.obr.sequence), "OBX", obx.get(1), obx.get(3), obx.get(4))
        self._seen[key] = self._seen.get(key, 0) + 1
        parts = (*key, str(self._seen[key]))
        if self.filler:
            return deterministic_id("Observation", *parts)
        return self.context.scoped_id("Observation", *parts)

    def resource(self) -> dict[str, Any]:
        """The DiagnosticReport."""
        obr = self.obr
        status = obr.get(25).upper()
        report: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "id": self.id,
            "status": REPORT_STATUS.get(status, "unknown" if not status else "final"),
            "code": self.code,
            "subject": {"reference": self.subject},
        }
        if self.filler:
            report["identifier"] = [self.filler]
        if self.effective:
            report["effectiveDateTime"] = self.effective
        issued = self.context.datetime(obr, 22)
        if issued and "T" in issued:
            report["issued"] = issued
        if self.results:
            report["result"] = [{"reference": f"Observation/{o['id']}"} for o in self.results]
        return report


def map_oru(context: MessageContext) -> list[MappedResource]:
    """Map an ORU^R01 message.

    :raises MappingError: a required segment or field is missing or malformed.
    """
    patient = map_patient(context, required_identifier=False, replace=False)
    mapped = [patient]
    reports: list[_Report] = []
    orc: Segment | None = None
    last: dict[str, Any] | None = None
    loose: list[dict[str, Any]] = []
    for segment in context.message.segments:
        if segment.name == "ORC":
            orc, last = segment, None
        elif segment.name == "OBR":
            last = None
            reports.append(_Report(context, segment, orc, patient.reference))
        elif segment.name == "OBX":
            report = reports[-1] if reports else None
            if report is not None:
                obs_id = report.observation_id(segment)
                effective = report.effective
            else:
                obs_id = context.scoped_id("Observation", "OBX", str(segment.sequence))
                effective = None
            last = map_observation(context, segment, obs_id, patient.reference, effective)
            (report.results if report is not None else loose).append(last)
        elif segment.name == "NTE" and last is not None:
            text = segment.text(3)
            if text:
                last.setdefault("note", []).append({"text": text})
        elif segment.name == "PID" and segment.sequence > 1:
            raise MappingError(
                "The message holds results for more than one patient; send one PID per message.",
                "PID",
                segment.sequence,
            )
    if not reports:
        context.required("OBR")
    for report in reports:
        mapped += [MappedResource(o) for o in report.results]
        mapped.append(MappedResource(report.resource()))
    mapped += [MappedResource(o) for o in loose]
    return mapped
