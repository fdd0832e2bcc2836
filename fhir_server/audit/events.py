"""AuditEvent resources (FHIR R4) for accesses, with DICOM audit vocabulary where R4 points to it.

One access becomes one AuditEvent:

- ``type`` ``rest`` and ``subtype`` the RESTful interaction (read, search-type, create...);
- ``action`` C/R/U/D/E and ``outcome`` 0 (success), 4 (refused or invalid: 4xx), 8 (server failure);
- ``agent``: the user or client that asked (requestor, with its network address, DICOM role
  110153 "Source Role ID") and this server (DICOM role 110152 "Destination Role ID");
- ``entity``: the resource or type acted on (with the query, base64, for searches) and the
  patient in context, so ``AuditEvent?patient=`` finds every access to a patient's data.

Nothing secret goes in: never a header, a token or a password.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_server.repository.protocol import format_instant

DCM = "http://dicom.nema.org/resources/ontology/DCM"
_AUDIT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
_INTERACTION = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_ENTITY_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"

#: Interaction -> AuditEvent.action.
_ACTIONS = {
    "create": "C",
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "history-system": "R",
    "search-type": "R",
    "search-system": "R",
    "capabilities": "R",
    "update": "U",
    "patch": "U",
    "conditional-update": "U",
    "delete": "D",
    "conditional-delete": "D",
}


@dataclass(frozen=True, slots=True)
class Access:
    """What one request did, as the REST layer saw it."""

    interaction: str
    status: int
    recorded: datetime
    #: The user (or the client, for a backend service); ``None`` when no valid token was sent.
    who: str | None
    client_id: str | None
    source_address: str | None
    resource_type: str | None = None
    resource_id: str | None = None
    patient: str | None = None
    query: str | None = None
    #: ``Practitioner/1``: the user as a FHIR resource, when the token names one.
    fhir_user: str | None = None


def outcome_code(status: int) -> str:
    return "0" if status < 400 else "4" if status < 500 else "8"


def audit_event(access: Access, *, server: str) -> dict[str, Any]:
    """The AuditEvent resource recording ``access`` at the server named ``server``."""
    requestor: dict[str, Any] = {
        "type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
        "requestor": True,
        "who": {"display": access.who or "unauthenticated"},
    }
    if access.fhir_user:
        requestor["who"] = {"reference": access.fhir_user, "display": access.who or access.fhir_user}
    if access.client_id:
        requestor["altId"] = access.client_id
        requestor["name"] = f"client {access.client_id}"
    if access.source_address:
        requestor["network"] = {"address": access.source_address, "type": "2"}
    entities: list[dict[str, Any]] = []
    if access.resource_type:
        what: dict[str, Any] = {
            "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
        }
        if access.resource_id:
            what["what"] = {"reference": f"{access.resource_type}/{access.resource_id}"}
        else:
            what["name"] = access.resource_type
        if access.query:
            what["query"] = base64.b64encode(access.query.encode()).decode()
        entities.append(what)
    if access.patient:
        entities.append(
            {
                "what": {"reference": f"Patient/{access.patient}"},
                "type": {"system": _ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": _ENTITY_ROLE, "code": "1", "display": "Patient"},
            }
        )
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "type": {"system": _AUDIT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": _INTERACTION, "code": _interaction_code(access.interaction)}],
        "action": _ACTIONS.get(access.interaction, "E"),
        "recorded": format_instant(access.recorded),
        "outcome": outcome_code(access.status),
        "outcomeDesc": f"HTTP {access.status}",
        "agent": [
            requestor,
            {
                "type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
                "requestor": False,
                "who": {"display": server},
            },
        ],
        "source": {
            "observer": {"display": server},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "3",
                    "display": "Web Server",
                }
            ],
        },
    }
    if entities:
        event["entity"] = entities
    return event


def _interaction_code(interaction: str) -> str:
    """The restful-interaction code: operations are ``operation``, conditional forms their plain verb."""
    if interaction.startswith("$"):
        return "operation"
    return interaction.removeprefix("conditional-")
