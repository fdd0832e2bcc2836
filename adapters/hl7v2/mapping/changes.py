"""Changes that depend on what the server already holds: upserts that keep history, merges, moves, cancels.

Mapping stays IO-free: a mapper queues a :class:`StoredChange` on the message
context, and processing applies it through a :class:`Store` (the repository
API) after writing nothing else of the message first. A change whose target
the server does not hold changes nothing and returns a warning (ERR severity
W, error 204 "unknown key identifier"), so the message is still AA.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.hl7v2.ack import AckError, ErrorCode, ErrorLocation, Severity

__all__ = [
    "EncounterUpdate",
    "EncounterWrite",
    "PatientLink",
    "PatientMerge",
    "PatientRetire",
    "PatientWrite",
    "Store",
    "StoredChange",
    "VisitMerge",
    "VisitMove",
]

Json = dict[str, Any]
_LINK = "http://hl7.org/fhir/link-type"


class Store(Protocol):
    """What a change may do with stored resources; implemented on the repository by processing."""

    def read(self, resource_type: str, resource_id: str) -> Json | None:
        """The current version without ``meta``, or ``None`` when absent or deleted."""

    def write(self, resource: Json) -> None:
        """Create or update (an unchanged resource keeps its version)."""

    def in_compartment(self, compartment: str, resource_id: str) -> list[Json]:
        """Every stored resource in the ``compartment`` of ``resource_id``, the anchor itself left out."""


class StoredChange(Protocol):
    """One change; returns the warnings for the ACK."""

    def apply(self, store: Store) -> list[AckError]:
        """Apply the change."""


def _unknown(text: str, location: ErrorLocation | None) -> AckError:
    return AckError(ErrorCode.UNKNOWN_KEY_IDENTIFIER, text, location, Severity.WARNING)


def _same_identifier(a: Json, b: Json) -> bool:
    return (a.get("system"), a.get("value")) == (b.get("system"), b.get("value"))


def _repoint(resource: Json, old: str, new: str) -> bool:
    """Replace every ``reference`` equal to ``old`` by ``new``; return whether any was."""
    changed = False
    stack: list[Any] = [resource]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("reference") == old:
                node["reference"] = new
                changed = True
            stack.extend(v for k, v in node.items() if k != "reference")
        elif isinstance(node, list):
            stack.extend(node)
    return changed


def _repoint_compartment(store: Store, compartment: str, old_id: str, new_id: str) -> None:
    """Point every stored resource of ``compartment/old_id`` at ``compartment/new_id``."""
    old, new = f"{compartment}/{old_id}", f"{compartment}/{new_id}"
    for resource in store.in_compartment(compartment, old_id):
        if _repoint(resource, old, new):
            store.write(resource)


@dataclass(slots=True)
class PatientWrite:
    """Write the Patient of a PID, keeping what merges added to the stored one.

    Kept from the stored version: ``link`` entries, identifiers moved in by a
    merge (``use`` ``old``) that the message does not carry, and ``active``
    false on a Patient that was replaced.
    """

    patient: Json

    def apply(self, store: Store) -> list[AckError]:
        stored = store.read("Patient", self.patient["id"])
        patient = copy.deepcopy(self.patient)
        if stored is not None:
            identifiers = patient.setdefault("identifier", [])
            identifiers += [
                i
                for i in stored.get("identifier", [])
                if i.get("use") == "old" and not any(_same_identifier(i, j) for j in identifiers)
            ]
            if stored.get("link"):
                patient["link"] = stored["link"]
            if stored.get("active") is False and any(link["type"] == "replaced-by" for link in stored.get("link", [])):
                patient["active"] = False
        store.write(patient)
        return []


def _add_link(patient: Json, other: str, kind: str) -> None:
    links = [link for link in patient.get("link", []) if link["other"]["reference"] != other]
    patient["link"] = [*links, {"other": {"reference": other}, "type": kind}]


@dataclass(slots=True)
class PatientMerge:
    """MRG-1 names a Patient merged into the PID's (A18, A30, A34, A36, A39, A40, A46, A47).

    The merged Patient gets ``link`` replaced-by the survivor and ``active``
    false; the survivor gets ``link`` replaces and the merged Patient's
    identifiers (``use`` old); every stored resource of the merged Patient's
    compartment is pointed at the survivor.
    """

    surviving_id: str
    merged_id: str
    location: ErrorLocation

    def apply(self, store: Store) -> list[AckError]:
        if self.merged_id == self.surviving_id:
            return []
        merged = store.read("Patient", self.merged_id)
        if merged is None:
            return [_unknown("MRG-1 names a patient this server does not hold; nothing was merged.", self.location)]
        surviving = store.read("Patient", self.surviving_id)
        if surviving is None:  # the PID Patient is written before; absent only if it was deleted meanwhile
            return [_unknown("The surviving patient of PID is not stored; nothing was merged.", self.location)]
        identifiers = surviving.setdefault("identifier", [])
        for moved in merged.get("identifier", []):
            if not any(_same_identifier(moved, i) for i in identifiers):
                identifiers.append({**moved, "use": "old"})
        _add_link(surviving, f"Patient/{self.merged_id}", "replaces")
        _add_link(merged, f"Patient/{self.surviving_id}", "replaced-by")
        merged["active"] = False
        store.write(surviving)
        store.write(merged)
        _repoint_compartment(store, "Patient", self.merged_id, self.surviving_id)
        return []


@dataclass(slots=True)
class PatientLink:
    """A24 links two Patients (``link`` seealso both ways); A37 (``unlink``) removes those links."""

    first_id: str
    second_id: str
    unlink: bool = False

    def apply(self, store: Store) -> list[AckError]:
        for this, other in ((self.first_id, self.second_id), (self.second_id, self.first_id)):
            patient = store.read("Patient", this)
            if patient is None:
                continue
            reference = f"Patient/{other}"
            if self.unlink:
                links = [link for link in patient.get("link", []) if link["other"]["reference"] != reference]
                if links:
                    patient["link"] = links
                else:
                    patient.pop("link", None)
            else:
                _add_link(patient, reference, "seealso")
            store.write(patient)
        return []


@dataclass(slots=True)
class PatientRetire:
    """A29 (delete person information): the stored Patient becomes ``active`` false.

    Choice where the IG is silent: the Patient is kept, since stored results still refer to it.
    """

    patient_id: str
    location: ErrorLocation

    def apply(self, store: Store) -> list[AckError]:
        patient = store.read("Patient", self.patient_id)
        if patient is None:
            return [_unknown("PID names a patient this server does not hold; nothing was deleted.", self.location)]
        patient["active"] = False
        store.write(patient)
        return []


def _merge_history(stored: Json, encounter: Json, when: str | None) -> None:
    """Record the stored status and class in ``statusHistory`` and ``classHistory`` when they change.

    The earlier value held from the stored ``period.start`` (if known) until ``when``, the event time.
    """
    period = {k: v for k, v in (("start", stored.get("period", {}).get("start")), ("end", when)) if v}
    for key, value_key, old, new in (
        ("statusHistory", "status", stored.get("status"), encounter.get("status")),
        ("classHistory", "class", stored.get("class"), encounter.get("class")),
    ):
        history = list(stored.get(key, []))
        changed = (old or {}).get("code") != (new or {}).get("code") if key == "classHistory" else old != new
        if old and changed and period:
            history.append({value_key: old, "period": period})
        if history:
            encounter[key] = history


def _merge_locations(stored: Json, encounter: Json) -> None:
    """Keep the stored locations the message does not name, as completed (the transfer history)."""
    current = {loc["location"].get("display") for loc in encounter.get("location", [])}
    earlier = [
        {**loc, "status": "completed"}
        for loc in stored.get("location", [])
        if loc["location"].get("display") not in current
    ]
    if earlier or encounter.get("location"):
        encounter["location"] = earlier + encounter.get("location", [])


@dataclass(slots=True)
class EncounterWrite:
    """Write the Encounter of a PV1, keeping the stored one's status, class and location history.

    ``status`` ``None`` (updates such as A08): keep the stored status, else ``unknown`` as the IG maps A08.
    """

    encounter: Json
    status: str | None
    #: The event time (EVN-2, else MSH-7), closing the earlier status and class.
    when: str | None = None

    def apply(self, store: Store) -> list[AckError]:
        encounter = copy.deepcopy(self.encounter)
        stored = store.read("Encounter", encounter["id"])
        encounter["status"] = self.status or (stored or {}).get("status", "unknown")
        if stored is not None:
            for key in ("identifier", "hospitalization", "reasonCode", "participant", "type", "diagnosis"):
                if key not in encounter and key in stored:
                    encounter[key] = stored[key]
            period = {**stored.get("period", {}), **encounter.get("period", {})}
            if period:
                encounter["period"] = period
            _merge_history(stored, encounter, self.when)
            _merge_locations(stored, encounter)
        store.write(encounter)
        return []


@dataclass(slots=True)
class EncounterUpdate:
    """A cancel, leave of absence or pending event on a stored Encounter: set its status (and more).

    :param clear_end: drop ``period.end`` (A13 cancel discharge).
    :param location: the location the message names as current (A12 cancel transfer), if any.
    """

    encounter_id: str
    status: str | None
    what: str
    location: ErrorLocation
    clear_end: bool = False
    current_location: Json | None = None
    when: str | None = None
    extra: Json = field(default_factory=dict)

    def apply(self, store: Store) -> list[AckError]:
        stored = store.read("Encounter", self.encounter_id)
        if stored is None:
            text = f"PV1 names a visit this server does not hold; the {self.what} changed nothing."
            return [_unknown(text, self.location)]
        encounter = copy.deepcopy(stored)
        if self.status:
            encounter["status"] = self.status
            _merge_history(stored, encounter, self.when)
        if self.clear_end and "period" in encounter:
            encounter["period"].pop("end", None)
            if not encounter["period"]:
                del encounter["period"]
        if self.current_location is not None:
            encounter["location"] = [self.current_location]
            _merge_locations(stored, encounter)
        encounter.update(self.extra)
        store.write(encounter)
        return []


@dataclass(slots=True)
class VisitMerge:
    """A42 merge visit, A50 change visit number: MRG-5 names an Encounter merged into the PV1's.

    Choice where the IG is silent: the merged Encounter is marked
    ``entered-in-error`` with ``partOf`` the survivor, its identifiers move
    to the survivor (``use`` old), and the resources of its compartment are
    pointed at the survivor.
    """

    surviving_id: str
    merged_id: str
    location: ErrorLocation

    def apply(self, store: Store) -> list[AckError]:
        if self.surviving_id == self.merged_id:
            return []
        merged = store.read("Encounter", self.merged_id)
        surviving = store.read("Encounter", self.surviving_id)
        if merged is None or surviving is None:
            which = "MRG-5" if merged is None else "PV1-19"
            return [_unknown(f"{which} names a visit this server does not hold; nothing was merged.", self.location)]
        identifiers = surviving.setdefault("identifier", [])
        identifiers += [{**i, "use": "old"} for i in merged.get("identifier", [])]
        merged["status"] = "entered-in-error"
        merged["partOf"] = {"reference": f"Encounter/{self.surviving_id}"}
        store.write(surviving)
        store.write(merged)
        _repoint_compartment(store, "Encounter", self.merged_id, self.surviving_id)
        return []


@dataclass(slots=True)
class VisitMove:
    """A45 move visit: the stored Encounter (and the resources of its compartment) move to the PID's Patient."""

    encounter_id: str
    from_patient: str
    to_patient: str
    location: ErrorLocation

    def apply(self, store: Store) -> list[AckError]:
        encounter = store.read("Encounter", self.encounter_id)
        if encounter is None:
            return [_unknown("The visit to move is not held by this server; nothing was moved.", self.location)]
        old, new = f"Patient/{self.from_patient}", f"Patient/{self.to_patient}"
        encounter["subject"] = {"reference": new}
        store.write(encounter)
        for resource in store.in_compartment("Encounter", self.encounter_id):
            if _repoint(resource, old, new):
                store.write(resource)
        return []
