"""Map DICOM instance headers to FHIR R4 ImagingStudy and Patient resources.

Pure functions over :class:`~adapters.dicom.headers.InstanceHeader`: no IO, no
repository. The output is plain JSON-ready ``dict`` data in the shape of
https://hl7.org/fhir/R4/imagingstudy.html and https://hl7.org/fhir/R4/patient.html.

Identifier systems for an issuer (Patient ID, Accession Number) are chosen by
:func:`identifier_system`, in this order:

1. Universal Entity ID of type ``ISO`` → ``urn:oid:<oid>``; ``UUID`` →
   ``urn:uuid:<uuid>``; ``URI`` → the URI itself.
2. A local namespace that is itself an OID or an absolute URI → as above.
3. Any other local namespace, e.g. ``HOSP_A`` → ``urn:dicom:issuer:HOSP_A``
   (percent-encoded), the ``urn:dicom:`` prefix following FHIR's own
   ``urn:dicom:uid`` convention for DICOM-derived identifiers.
4. No issuer → :data:`NO_ISSUER_SYSTEM` unless the caller passes a default
   (e.g. one system per sending application entity).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from adapters.dicom import _values

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from adapters.dicom.headers import InstanceHeader, Issuer, PersonName

__all__ = [
    "LOCAL_ISSUER_SYSTEM_PREFIX",
    "NO_ISSUER_SYSTEM",
    "deterministic_id",
    "identifier_system",
    "imaging_study_from_instances",
    "patient_from_header",
]

#: Prefix of the system for a Patient ID or Accession Number issued in a local namespace.
LOCAL_ISSUER_SYSTEM_PREFIX = "urn:dicom:issuer:"
#: System for a Patient ID without any issuer: unique only within one sender.
NO_ISSUER_SYSTEM = "urn:dicom:no-issuer"
DICOM_UID_SYSTEM = "urn:dicom:uid"
DCM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
V2_0203_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
SOP_CLASS_SYSTEM = "urn:ietf:rfc:3986"
SNOMED_SYSTEM = "http://snomed.info/sct"
#: https://hl7.org/fhir/R4/valueset-imagingstudy-status.html
IMAGING_STUDY_STATUSES = frozenset({"registered", "available", "cancelled", "entered-in-error", "unknown"})
# Series Modality (0008,0060) is Type 1 but sometimes absent; FHIR requires it, and
# OT ("Other") is the DICOM defined term that claims nothing.
_FALLBACK_MODALITY = "OT"
_GENDERS = {"M": "male", "F": "female", "O": "other"}
#: Body site laterality value set (https://hl7.org/fhir/R4/valueset-bodysite-laterality.html).
_LATERALITY = {
    "R": ("419465000", "Unilateral right"),
    "L": ("419161000", "Unilateral left"),
    "B": ("51440002", "Bilateral"),
}
_ABSOLUTE_URI = re.compile(r"(?:https?://\S+|urn:[A-Za-z0-9][A-Za-z0-9-]*:\S+)")
_ID_LENGTH = 32
_T = TypeVar("_T")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def deterministic_id(*parts: str) -> str:
    """Return a stable FHIR id (32 lowercase hex characters) derived from *parts*.

    The parts are length-prefixed before hashing so ``("ab", "c")`` and
    ``("a", "bc")`` differ. 128 bits of SHA-256 make collisions negligible while
    keeping URLs short; the result matches the FHIR id pattern ``[A-Za-z0-9\\-.]{1,64}``.

    :raises ValueError: if no part is given.
    """
    if not parts:
        raise ValueError("deterministic_id() needs at least one part.")
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()[:_ID_LENGTH]


def identifier_system(issuer: Issuer | None, *, default: str | None = None) -> str | None:
    """Return the FHIR ``Identifier.system`` for values assigned by *issuer*.

    :param default: returned when *issuer* is ``None``.
    """
    if issuer is None:
        return default
    if issuer.universal_id:
        kind = issuer.universal_id_type
        if kind == "ISO" and _values.is_valid_uid(issuer.universal_id):
            return f"urn:oid:{issuer.universal_id}"
        if kind == "UUID" and _UUID.fullmatch(issuer.universal_id):
            return f"urn:uuid:{issuer.universal_id.lower()}"
        if kind == "URI" and _ABSOLUTE_URI.fullmatch(issuer.universal_id):
            return issuer.universal_id
    local = issuer.local_id or issuer.universal_id
    if local is None:
        return default
    if _values.is_valid_uid(local) and "." in local:
        return f"urn:oid:{local}"
    if _ABSOLUTE_URI.fullmatch(local):
        return local
    return LOCAL_ISSUER_SYSTEM_PREFIX + quote(local, safe="")


def patient_from_header(h: InstanceHeader, *, default_system: str = NO_ISSUER_SYSTEM) -> dict[str, Any]:
    """Return a FHIR R4 Patient for the patient an instance belongs to.

    The id is derived from the identifier system and Patient ID, so every
    instance of the same patient maps to the same Patient. Without a Patient ID
    the id is derived from the Study Instance UID: an anonymous patient per study.

    :param default_system: identifier system when the instance names no issuer.
    """
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if h.patient_id:
        system = identifier_system(h.issuer_of_patient_id, default=default_system) or default_system
        patient["id"] = deterministic_id("Patient", system, h.patient_id)
        patient["identifier"] = [
            {
                "use": "usual",
                "type": {"coding": [{"system": V2_0203_SYSTEM, "code": "MR"}]},
                "system": system,
                "value": h.patient_id,
            }
        ]
    else:
        patient["id"] = deterministic_id("Patient", "study", h.study_instance_uid)
    if h.patient_name is not None:
        patient["name"] = [_human_name(h.patient_name)]
    if h.patient_sex:
        patient["gender"] = _GENDERS.get(h.patient_sex, "unknown")
    if h.patient_birth_date:
        patient["birthDate"] = h.patient_birth_date
    return patient


def imaging_study_from_instances(
    instances: Sequence[InstanceHeader],
    *,
    patient_reference: str,
    endpoint_reference: str | None = None,
    status: str = "available",
    default_timezone: str | None = None,
) -> dict[str, Any]:
    """Return a FHIR R4 ImagingStudy describing *instances* of one study.

    Instances are deduplicated by SOP Instance UID (the first occurrence wins),
    counts are computed from what is given, series are ordered by Series Number
    then UID and instances by Instance Number then UID, numberless ones last.
    Study- and series-level attributes are taken from the first instance, in
    that order, that has them.

    :param patient_reference: ``ImagingStudy.subject``, e.g. ``Patient/abc``.
    :param endpoint_reference: ``ImagingStudy.endpoint``, e.g. ``Endpoint/wado``.
    :param default_timezone: offset (``+01:00``) for times when the instances
        carry no Timezone Offset From UTC; without either, ``started`` keeps only
        the date, since FHIR requires a zone with a time.
    :raises ValueError: if *instances* is empty or spans several studies, or
        *status* is not an ImagingStudy status code.
    """
    if status not in IMAGING_STUDY_STATUSES:
        raise ValueError(f"ImagingStudy status `{status}` is not one of {sorted(IMAGING_STUDY_STATUSES)}.")
    by_sop_uid: dict[str, InstanceHeader] = {}
    for h in instances:
        by_sop_uid.setdefault(h.sop_instance_uid, h)
    unique = list(by_sop_uid.values())
    if not unique:
        raise ValueError("An ImagingStudy needs at least one instance.")
    study_uids = sorted({h.study_instance_uid for h in unique})
    if len(study_uids) > 1:
        raise ValueError(f"Instances belong to several studies: {', '.join(f'`{u}`' for u in study_uids)}.")
    series_groups: dict[str, list[InstanceHeader]] = {}
    for h in unique:
        series_groups.setdefault(h.series_instance_uid, []).append(h)
    groups = sorted(
        (sorted(members, key=_instance_order) for members in series_groups.values()),
        key=lambda members: _number_order(_first(members, lambda h: h.series_number), members[0].series_instance_uid),
    )
    ordered = [h for members in groups for h in members]
    series = [_series(members, default_timezone) for members in groups]
    study: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": deterministic_id("ImagingStudy", study_uids[0]),
        "identifier": _study_identifiers(study_uids[0], ordered),
        "status": status,
        "modality": _distinct_codings(s["modality"] for s in series),
        "subject": {"reference": patient_reference},
    }
    zone = _first(ordered, lambda h: h.timezone_offset) or default_timezone
    started = _values.fhir_datetime(
        _first(ordered, lambda h: h.study_date), _first(ordered, lambda h: h.study_time), zone
    )
    referrer = _first(ordered, lambda h: h.referring_physician_name)
    optional: dict[str, Any] = {
        "started": started,
        "referrer": {"display": referrer.text} if referrer else None,
        "endpoint": [{"reference": endpoint_reference}] if endpoint_reference else None,
        "numberOfSeries": len(series),
        "numberOfInstances": len(ordered),
        "description": _first(ordered, lambda h: h.study_description),
        "series": series,
    }
    study.update((key, value) for key, value in optional.items() if value is not None)
    return study


def _series(members: list[InstanceHeader], default_timezone: str | None) -> dict[str, Any]:
    first = members[0]
    number = _first(members, lambda h: h.series_number)
    laterality = _LATERALITY.get(_first(members, lambda h: h.laterality) or "")
    body_part = _first(members, lambda h: h.body_part_examined)
    zone = _first(members, lambda h: h.timezone_offset) or default_timezone
    optional: dict[str, Any] = {
        "number": number if number is not None and number >= 0 else None,
        "modality": _coding(_first(members, lambda h: h.modality) or _FALLBACK_MODALITY),
        "description": _first(members, lambda h: h.series_description),
        "numberOfInstances": len(members),
        "bodySite": {"display": body_part} if body_part else None,
        "laterality": {"system": SNOMED_SYSTEM, "code": laterality[0], "display": laterality[1]}
        if laterality
        else None,
        "started": _values.fhir_datetime(
            _first(members, lambda h: h.series_date), _first(members, lambda h: h.series_time), zone
        ),
        "instance": [_instance(h) for h in members],
    }
    return {"uid": first.series_instance_uid, **{k: v for k, v in optional.items() if v is not None}}


def _instance(h: InstanceHeader) -> dict[str, Any]:
    instance: dict[str, Any] = {
        "uid": h.sop_instance_uid,
        "sopClass": {"system": SOP_CLASS_SYSTEM, "code": f"urn:oid:{h.sop_class_uid}"},
    }
    # unsignedInt: a negative Instance Number cannot be represented.
    if h.instance_number is not None and h.instance_number >= 0:
        instance["number"] = h.instance_number
    return instance


def _study_identifiers(study_uid: str, ordered: list[InstanceHeader]) -> list[dict[str, Any]]:
    identifiers: list[dict[str, Any]] = [
        {"use": "official", "system": DICOM_UID_SYSTEM, "value": f"urn:oid:{study_uid}"}
    ]
    carrier = next((h for h in ordered if h.accession_number), None)
    if carrier is not None:
        accession: dict[str, Any] = {"use": "usual", "type": {"coding": [{"system": V2_0203_SYSTEM, "code": "ACSN"}]}}
        system = identifier_system(carrier.accession_number_issuer)
        if system:
            accession["system"] = system
        accession["value"] = carrier.accession_number
        identifiers.append(accession)
    return identifiers


def _human_name(name: PersonName) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "text": name.text or None,
        "family": name.family,
        "given": list(name.given) or None,
        "prefix": list(name.prefix) or None,
        "suffix": list(name.suffix) or None,
    }
    return {key: value for key, value in parts.items() if value is not None}


def _coding(modality: str) -> dict[str, str]:
    return {"system": DCM_SYSTEM, "code": modality}


def _distinct_codings(codings: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for coding in codings:
        seen.setdefault(coding["code"], coding)
    return list(seen.values())


def _first(headers: Sequence[InstanceHeader], attribute: Callable[[InstanceHeader], _T | None]) -> _T | None:
    return next((value for h in headers if (value := attribute(h)) is not None), None)


def _number_order(number: int | None, uid: str) -> tuple[bool, int, str]:
    return (number is None, number or 0, uid)


def _instance_order(h: InstanceHeader) -> tuple[bool, int, str]:
    return _number_order(h.instance_number, h.sop_instance_uid)
