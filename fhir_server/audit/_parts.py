"""Pieces every AuditEvent shares, whatever path recorded the access (REST, adapters, ML, CLI).

Kept in one place so a REST request and an HL7 message name agents, patients and
the observing server the same way, and one search finds both.
"""

from __future__ import annotations

from typing import Any

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
ENTITY_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
_SOURCE_DISPLAYS = {"3": "Web Server", "4": "Application Server"}
#: AuditEvent.agent.network.type: 1 machine name, 2 IP address.
MACHINE_NAME, IP_ADDRESS = "1", "2"


def outcome_code(status: int) -> str:
    """AuditEvent.outcome for an HTTP-like status: 0 success, 4 refused or invalid, 8 server failure."""
    return "0" if status < 400 else "4" if status < 500 else "8"


def source_agent(who: dict[str, Any], *, address: str | None = None, address_type: str = IP_ADDRESS) -> dict[str, Any]:
    """The requesting agent (DICOM role 110153 "Source Role ID"), from where it connected if known."""
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "requestor": True,
        "who": who,
    }
    if address:
        agent["network"] = {"address": address, "type": address_type}
    return agent


def destination_agent(server: str) -> dict[str, Any]:
    """This server, receiving the request (DICOM role 110152 "Destination Role ID")."""
    return {
        "type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
        "requestor": False,
        "who": {"display": server},
    }


def patient_entity(patient_id: str) -> dict[str, Any]:
    """The patient concerned, as ``entity.what`` so ``AuditEvent?patient=Patient/<id>`` finds the event."""
    return {
        "what": {"reference": f"Patient/{patient_id}"},
        "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
        "role": {"system": ENTITY_ROLE, "code": "1", "display": "Patient"},
    }


def observer(server: str, source_type: str) -> dict[str, Any]:
    """AuditEvent.source: the server that saw the access, and what kind of server it is."""
    return {
        "observer": {"display": server},
        "type": [{"system": _SOURCE_TYPE, "code": source_type, "display": _SOURCE_DISPLAYS[source_type]}],
    }
