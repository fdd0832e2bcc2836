"""ADT (patient administration) messages to Patient, Encounter and the resources of the surrounding segments.

v2-to-FHIR IG message maps ADT_A01 (also A04, A08, A13), ADT_A02, ADT_A03,
ADT_A05 (also A14, A28, A31), ADT_A09, ADT_A12, ADT_A15, ADT_A16, ADT_A17,
ADT_A21, ADT_A39 (A40-A42), ADT_A43, ADT_A45, ADT_A50, ADT_A60: PID/PD1 to
Patient, PV1/PV2 to Encounter, NK1 to RelatedPerson, AL1 to
AllergyIntolerance, DG1 to Condition, PR1 to Procedure, IN1/IN2 to Coverage,
OBX to Observation, MRG to merges (:mod:`.merge`). What each trigger does is
the table :data:`.adt_events.ADT_EVENTS`.

Only PID-3 is required: any other part that cannot be mapped (an
unidentifiable visit, an AL1 without allergen) is left out with a warning.
The Patient and the Encounter are written through :mod:`.changes`, so merges
and status, class and location history survive later updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from adapters.hl7v2.ack import ErrorCode, ErrorLocation
from adapters.hl7v2.mapping.adt_events import ADT_EVENTS, AdtEvent
from adapters.hl7v2.mapping.allergy import map_allergy
from adapters.hl7v2.mapping.changes import EncounterUpdate, EncounterWrite, PatientRetire, PatientWrite
from adapters.hl7v2.mapping.condition import map_condition
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.coverage import map_coverage
from adapters.hl7v2.mapping.datatypes import xcn_reference, xon_reference
from adapters.hl7v2.mapping.encounter import encounter_id, location, map_encounter
from adapters.hl7v2.mapping.merge import link_patients, merge
from adapters.hl7v2.mapping.observation import map_observation
from adapters.hl7v2.mapping.patient import map_patient
from adapters.hl7v2.mapping.procedure import map_procedure
from adapters.hl7v2.mapping.related_person import map_related_person
from adapters.hl7v2.mapping.terminology import ENCOUNTER_STATUS
from adapters.hl7v2.parse import Segment

__all__ = ["ADT_EVENTS", "map_adt"]


@dataclass(slots=True)
class _Group:
    """A PID and the segments after it up to the next PID."""

    pid: Segment
    segments: list[Segment] = field(default_factory=list)

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]


def _groups(context: MessageContext) -> list[_Group]:
    groups: list[_Group] = []
    for segment in context.message.segments:
        if segment.name == "PID":
            groups.append(_Group(segment))
        elif groups:
            groups[-1].segments.append(segment)
    if not groups:
        context.required("PID")
    return groups


def _event_time(context: MessageContext) -> str | None:
    evn = context.message.first("EVN")
    for segment, number in ((evn, 6), (evn, 2), (context.message.msh, 7)):
        if segment is not None:
            when = context.optional(partial(context.datetime, segment, number), "The event time")
            if when and "T" in when:
                return when
    return None


def _primary_care(group: _Group, patient: dict[str, Any]) -> None:
    """PD1-3 (primary facility) and PD1-4 (primary care provider) to Patient.generalPractitioner."""
    pd1 = group.first("PD1")
    if pd1 is None:
        return
    d = pd1.delimiters
    carers = [r for r in (xon_reference(rep, d) for rep in pd1.repetitions(3)) if r]
    carers += [r for r in (xcn_reference(rep, d) for rep in pd1.repetitions(4)) if r]
    if carers:
        patient["generalPractitioner"] = carers


def _visit(
    context: MessageContext, event: str, spec: AdtEvent, group: _Group, patient: str, when: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """Queue the Encounter write or update; return the Encounter written (if any) and its reference."""
    pv1 = group.first("PV1")
    if pv1 is None:
        context.warn(
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
            "The message has no PV1 segment, so no Encounter was stored; the rest of the message was.",
            ErrorLocation("PV1"),
        )
        return None, None
    status = ENCOUNTER_STATUS.get(event)
    if spec.visit == "write":
        build = partial(map_encounter, context, pv1, group.first("PV2"), patient, transfer=event == "A02")
        encounter = context.optional(build, "The Encounter")
        if encounter is None:
            return None, None
        if status is None and encounter.get("period", {}).get("end"):
            status = "finished"
        context.change(EncounterWrite(encounter, status, when))
        return encounter, f"Encounter/{encounter['id']}"
    found = context.optional(partial(encounter_id, pv1, patient), f"The {spec.what}")
    if found is None:
        return None, None
    current = location(pv1, 3, "active") if spec.relocate else None
    where = ErrorLocation("PV1", pv1.sequence, 19)
    context.change(EncounterUpdate(found[0], status, spec.what, where, spec.clear_end, current, when))
    return None, f"Encounter/{found[0]}"


def _surrounding(
    context: MessageContext, group: _Group, patient: str, encounter: dict[str, Any] | None, visit: str | None
) -> list[MappedResource]:
    """NK1, AL1, DG1, PR1, IN1/IN2 and OBX of one patient group; each one that cannot be mapped is skipped."""
    mapped: list[MappedResource | None] = []
    for nk1 in group.all("NK1"):
        mapped.append(
            context.optional(
                partial(map_related_person, context, nk1, patient), f"The RelatedPerson of NK1[{nk1.sequence}]"
            )
        )
    for al1 in group.all("AL1"):
        mapped.append(
            context.optional(
                partial(map_allergy, context, al1, patient), f"The AllergyIntolerance of AL1[{al1.sequence}]"
            )
        )
    diagnoses = []
    for dg1 in group.all("DG1"):
        pair = context.optional(
            partial(map_condition, context, dg1, patient, visit), f"The Condition of DG1[{dg1.sequence}]"
        )
        if pair is not None:
            mapped.append(pair[0])
            diagnoses.append(pair[1])
    if encounter is not None and diagnoses:
        encounter["diagnosis"] = diagnoses
    for pr1 in group.all("PR1"):
        mapped.append(
            context.optional(
                partial(map_procedure, context, pr1, patient, visit), f"The Procedure of PR1[{pr1.sequence}]"
            )
        )
    segments = group.segments
    for index, in1 in enumerate(segments):
        if in1.name == "IN1":
            in2 = segments[index + 1] if index + 1 < len(segments) and segments[index + 1].name == "IN2" else None
            mapped.append(
                context.optional(
                    partial(map_coverage, context, in1, in2, patient), f"The Coverage of IN1[{in1.sequence}]"
                )
            )
    for obx in group.all("OBX"):
        obs_id = context.scoped_id("Observation", "OBX", str(obx.sequence))
        observation = context.optional(
            partial(map_observation, context, obx, obs_id, patient, None), f"The Observation of OBX[{obx.sequence}]"
        )
        mapped.append(MappedResource(observation) if observation is not None else None)
    return [m for m in mapped if m is not None]


def map_adt(context: MessageContext, event: str) -> list[MappedResource]:
    """Map an ADT message of a supported event; the Patient and Encounter are queued as changes.

    :returns: the resources of the surrounding segments (the Patient and
        Encounter writes are in ``context.changes``).
    :raises MappingError: there is no PID, or a PID without PID-3: nothing of the message is usable.
    """
    spec = ADT_EVENTS[event]
    when = _event_time(context)
    mapped: list[MappedResource] = []
    patient_ids = []
    for group in _groups(context):
        patient = map_patient(context, required_identifier=True, replace=True, pid=group.pid).resource
        reference = f"Patient/{patient['id']}"
        patient_ids.append(patient["id"])
        if spec.merge == "retire":
            context.change(PatientRetire(patient["id"], ErrorLocation("PID", group.pid.sequence, 3)))
            continue
        _primary_care(group, patient)
        context.change(PatientWrite(patient))
        encounter, visit = (None, None)
        if spec.visit != "none":
            encounter, visit = _visit(context, event, spec, group, reference, when)
        mapped += _surrounding(context, group, reference, encounter, visit)
        if spec.merge in ("patient", "visit", "move-visit", "account"):
            merge(context, spec.merge, group.first("MRG"), patient["id"], group.first("PV1"),
                  optional=spec.visit == "write")  # fmt: skip
    if spec.merge in ("link", "unlink"):
        link_patients(context, patient_ids, unlink=spec.merge == "unlink")
    return mapped
