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

from fhir_server.audit._parts import (
    DCM,
    ENTITY_TYPE,
    destination_agent,
    observer,
    outcome_code,
    patient_entity,
    source_agent,
)
from fhir_server.repository.protocol import format_instant

__all__ = ["DCM", "Access", "audit_event", "outcome_code"]

_AUDIT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
_INTERACTION = "http://hl7.org/fhir/restful-interaction"

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


def audit_event(access: Access, *, server: str) -> dict[str, Any]:
    """The AuditEvent resource recording ``access`` at the server named ``server``."""
    who = {"display": access.who or "unauthenticated"}
    if access.fhir_user:
        who = {"reference": access.fhir_user, "display": access.who or access.fhir_user}
    requestor = source_agent(who, address=access.source_address)
    if access.client_id:
        requestor["altId"] = access.client_id
        requestor["name"] = f"client {access.client_id}"
    entities: list[dict[str, Any]] = []
    if access.resource_type:
        what: dict[str, Any] = {
            "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        }
        if access.resource_id:
            what["what"] = {"reference": f"{access.resource_type}/{access.resource_id}"}
        if access.query:
            # The whole request, type included: an entity has a name or a query, not both (sev-1).
            what["query"] = base64.b64encode(f"{access.resource_type}?{access.query}".encode()).decode()
        elif not access.resource_id:
            what["name"] = access.resource_type
        entities.append(what)
    if access.patient:
        entities.append(patient_entity(access.patient))
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "type": {"system": _AUDIT_TYPE, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": _INTERACTION, "code": _interaction_code(access.interaction)}],
        "action": _ACTIONS.get(access.interaction, "E"),
        "recorded": format_instant(access.recorded),
        "outcome": outcome_code(access.status),
        "outcomeDesc": f"HTTP {access.status}",
        "agent": [requestor, destination_agent(server)],
        "source": observer(server, "3"),
    }
    if entities:
        event["entity"] = entities
    return event


def _interaction_code(interaction: str) -> str:
    """The restful-interaction code: operations are ``operation``, conditional forms their plain verb."""
    if interaction.startswith("$"):
        return "operation"
    return interaction.removeprefix("conditional-")
