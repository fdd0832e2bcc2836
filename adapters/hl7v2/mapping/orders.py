"""ORM^O01 and OMG^O19 orders to ServiceRequest, and VXU^V04 to Immunization.

v2-to-FHIR IG: ORC + OBR to ServiceRequest (ids from the placer order number,
else the filler's); RXA (+ RXR) to Immunization.
"""

from __future__ import annotations

from typing import Any

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.datatypes import codeable_concept, deterministic_id, identifier
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.mapping.patient import map_patient
from adapters.hl7v2.parse import Segment
from conformance import fhir_json

__all__ = ["map_order", "map_vxu"]

#: ORC-1 order control (table 0119) to ServiceRequest.status; ORC-5 refines ``SC``.
_ORDER_CONTROL = {"NW": "active", "XO": "active", "RP": "active", "CA": "revoked", "DC": "revoked",
                  "OC": "revoked", "HD": "on-hold", "RL": "active", "CM": "completed"}  # fmt: skip
#: ORC-5 order status (table 0038) to ServiceRequest.status.
_ORDER_STATUS = {"A": "active", "IP": "active", "SC": "active", "CM": "completed", "CA": "revoked",
                 "DC": "revoked", "HD": "on-hold", "ER": "entered-in-error"}  # fmt: skip


def _service_request(context: MessageContext, orc: Segment, obr: Segment | None, subject: str) -> MappedResource:
    d = orc.delimiters
    placer = identifier(orc.raw(2) or (obr.raw(2) if obr else ""), d, type_code="PLAC")
    filler = identifier(orc.raw(3) or (obr.raw(3) if obr else ""), d, type_code="FILL")
    key = placer or filler
    if key is None:
        raise MappingError(
            "ORC-2 and ORC-3 (placer and filler order numbers) are both empty, so the order cannot be identified.",
            "ORC",
            orc.sequence,
            2,
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    status = _ORDER_STATUS.get(orc.get(5).upper()) or _ORDER_CONTROL.get(orc.get(1).upper(), "unknown")
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": deterministic_id("ServiceRequest", key["type"]["coding"][0]["code"], key.get("system", ""), key["value"]),
        "identifier": [i for i in (placer, filler) if i],
        "status": status,
        "intent": "order",
        "subject": {"reference": subject},
    }
    code = codeable_concept(obr.raw(4), d) if obr else None
    if code:
        request["code"] = code
    authored = context.datetime(orc, 9)
    if authored:
        request["authoredOn"] = authored
    requester = " ".join(p for p in (orc.get(12, 6), orc.get(12, 3), orc.get(12, 2), orc.get(12, 1)) if p)
    if requester:
        request["requester"] = {"display": requester}
    return MappedResource(request)


def map_order(context: MessageContext) -> list[MappedResource]:
    """Map ORM^O01 / OMG^O19: one ServiceRequest per ORC (with the OBR that follows it).

    :raises MappingError: no ORC, or an order without any order number.
    """
    patient = map_patient(context, required_identifier=False, replace=False)
    context.required("ORC")
    mapped = [patient]
    segments = context.message.segments
    for index, segment in enumerate(segments):
        if segment.name != "ORC":
            continue
        obr = next((s for s in segments[index + 1 :] if s.name in ("OBR", "ORC")), None)
        mapped.append(_service_request(context, segment, obr if obr and obr.name == "OBR" else None, patient.reference))
    return mapped


#: RXA-20 completion status (table 0322) to Immunization.status.
_COMPLETION = {"CP": "completed", "PA": "completed", "RE": "not-done", "NA": "not-done"}


def map_vxu(context: MessageContext) -> list[MappedResource]:
    """Map VXU^V04: one Immunization per RXA.

    :raises MappingError: no RXA, or RXA-3/RXA-5 missing or malformed.
    """
    patient = map_patient(context, required_identifier=True, replace=False)
    context.required("RXA")
    mapped = [patient]
    segments = context.message.segments
    for index, rxa in enumerate(segments):
        if rxa.name != "RXA":
            continue
        d = rxa.delimiters
        vaccine = codeable_concept(rxa.raw(5), d)
        when = context.datetime(rxa, 3)
        if vaccine is None or when is None:
            field = 5 if vaccine is None else 3
            raise MappingError(
                f"RXA-{field} ({'administered code' if field == 5 else 'administration start time'}) is empty.",
                "RXA",
                rxa.sequence,
                field,
                ErrorCode.REQUIRED_FIELD_MISSING,
            )
        immunization: dict[str, Any] = {
            "resourceType": "Immunization",
            "id": deterministic_id("Immunization", patient.reference, rxa.get(5), rxa.get(5, 3), rxa.get(3)),
            "status": _COMPLETION.get(rxa.get(20).upper(), "completed"),
            "vaccineCode": vaccine,
            "patient": {"reference": patient.reference},
            "occurrenceDateTime": when,
        }
        amount = rxa.get(6)
        if amount and amount != "999":
            try:
                immunization["doseQuantity"] = {
                    "value": fhir_json.decimal(amount),
                    **({"unit": rxa.get(7)} if rxa.get(7) else {}),
                }
            except ValueError:
                raise MappingError(f"RXA-6 amount `{amount}` is not a number.", "RXA", rxa.sequence, 6) from None
        if rxa.get(15):
            immunization["lotNumber"] = rxa.get(15)
        expires = context.datetime(rxa, 16)
        if expires:
            immunization["expirationDate"] = expires[:10]
        if rxa.get(17, 2) or rxa.get(17):
            immunization["manufacturer"] = {"display": rxa.get(17, 2) or rxa.get(17)}
        rxr = segments[index + 1] if index + 1 < len(segments) and segments[index + 1].name == "RXR" else None
        if rxr is not None:
            route, site = codeable_concept(rxr.raw(1), d), codeable_concept(rxr.raw(2), d)
            if route:
                immunization["route"] = route
            if site:
                immunization["site"] = site
        mapped.append(MappedResource(immunization))
    return mapped
