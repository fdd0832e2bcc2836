"""AuditEvents (FHIR R4, DICOM audit message codes) for accesses that do not come through REST.

The HL7 v2 and DICOM adapters, ``fhir-server load`` and the ML module write
patient data without an HTTP request; each write becomes one AuditEvent built
here and queued with :func:`fhir_server.audit.outbox.enqueue` in the SAME
transaction as the data, so both commit or neither does.

- ``type``: DICOM 110107 Import (messages, instances, files stored), 110112
  Query, 110106 Export (instances sent), 110100 Application Activity (scoring);
- ``subtype``: the path (``urn:fhir-server:audit-activity``: ``hl7v2-message``,
  ``dicom-c-store``...), plus what the sender's protocol calls the message;
- ``agent``: the sending system, OS user or module (``name``, network address)
  and this server; ``entity``: the patients, the resources written and the
  message or study, with counts in ``detail``.

No builder takes free text from a credential: callers pass names, addresses,
identifiers and counts only.
"""

from __future__ import annotations

import getpass
import logging
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from fhir_server.audit._parts import (
    DCM,
    ENTITY_ROLE,
    ENTITY_TYPE,
    IP_ADDRESS,
    MACHINE_NAME,
    destination_agent,
    observer,
    patient_entity,
    source_agent,
)
from fhir_server.audit.outbox import enqueue
from fhir_server.db import unit_of_work
from fhir_server.repository.protocol import format_instant

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "APPLICATION_ACTIVITY",
    "EXPORT",
    "FAILED",
    "IMPORT",
    "INVALID",
    "QUERY",
    "SUBTYPE_SYSTEM",
    "SUCCESS",
    "EventType",
    "Requestor",
    "activity_event",
    "cli_user",
    "identifier_entity",
    "imported_event",
    "module_agent",
    "patients_of",
    "peer_host",
    "record_alone",
    "record_import",
    "record_import_refused",
    "requestor_agent",
    "resource_entity",
    "this_server",
]

_log = logging.getLogger(__name__)

SUBTYPE_SYSTEM = "urn:fhir-server:audit-activity"
#: AuditEvent.outcome: success, refused or invalid input (HL7 AE/AR, DICOM failure status), server failure.
SUCCESS, INVALID, FAILED = "0", "4", "8"


@dataclass(frozen=True, slots=True)
class EventType:
    """A DICOM audit event ID (PS3.15 A.5.3) and the AuditEvent.action DICOM gives it."""

    code: str
    display: str
    action: str


IMPORT = EventType("110107", "Import", "C")
QUERY = EventType("110112", "Query", "E")
EXPORT = EventType("110106", "Export", "R")
APPLICATION_ACTIVITY = EventType("110100", "Application Activity", "E")


@dataclass(frozen=True, slots=True)
class Requestor:
    """Who caused the access: a sending system, an OS user, a module of this server."""

    #: ``agent.name`` and ``who.display``: what ``AuditEvent?agent-name=`` matches.
    name: str
    #: ``agent.altId``: e.g. the HL7 sending facility or the DICOM calling AE title.
    alt_id: str | None = None
    address: str | None = None
    address_type: str = IP_ADDRESS


@cache
def cli_user() -> Requestor:
    """The OS user running a command on this host (the CLI has no other identity)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry or LOGNAME
        user = "unknown"
    return Requestor(user, address=socket.gethostname(), address_type=MACHINE_NAME)


def peer_host(peer: str | None) -> str | None:
    """The host of a ``host:port`` (or ``[v6]:port``) peer, for ``agent.network`` (an IP address)."""
    if not peer:
        return None
    host, colon, port = peer.rpartition(":")
    if not colon or not port.isdigit():
        return peer
    return host.removeprefix("[").removesuffix("]")


@cache
def this_server() -> str:
    """How this process names itself as destination and observer of non-REST accesses."""
    return f"fhir-server@{socket.gethostname()}"


def requestor_agent(requestor: Requestor, *, requesting: bool = True) -> dict[str, Any]:
    """The agent (DICOM role 110153 "Source Role ID") of ``requestor``.

    :param requesting: ``False`` for a source that sent the data without asking for this
        access, e.g. the HL7 sender of a message someone imported from a file.
    """
    agent = source_agent({"display": requestor.name}, address=requestor.address, address_type=requestor.address_type)
    agent["requestor"] = requesting
    agent["name"] = requestor.name
    if requestor.alt_id:
        agent["altId"] = requestor.alt_id
    return agent


def module_agent(name: str) -> dict[str, Any]:
    """A module of this server taking part without having asked (the ML model that scored)."""
    return {
        "type": {"coding": [{"system": DCM, "code": "110150", "display": "Application"}]},
        "requestor": False,
        "who": {"display": name},
        "name": name,
    }


def resource_entity(reference: str) -> dict[str, Any]:
    """A resource written or read, as ``Type/id`` (``AuditEvent?entity=`` finds it)."""
    return {
        "what": {"reference": reference},
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        "role": {"system": ENTITY_ROLE, "code": "4", "display": "Resource"},
    }


def identifier_entity(
    value: str, *, name: str, system: str | None = None, details: dict[str, str] | None = None
) -> dict[str, Any]:
    """A message, study or file known by an identifier (MSH-10, Study Instance UID, path)."""
    entity: dict[str, Any] = {
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        "name": name,
    }
    if value:  # a sender may leave MSH-10 empty; an empty identifier would make the event invalid
        entity["what"] = {"identifier": {"system": system, "value": value} if system else {"value": value}}
    if details:
        entity["detail"] = [{"type": key, "valueString": text} for key, text in details.items()]
    return entity


def patients_of(resources: Iterable[dict[str, Any]]) -> list[str]:
    """The ids of the patients resources are about: Patients themselves, else their subject or patient."""
    found: dict[str, None] = {}
    for resource in resources:
        if resource.get("resourceType") == "Patient" and resource.get("id"):
            found[str(resource["id"])] = None
            continue
        for field in ("subject", "patient"):
            value = resource.get(field)
            reference = value.get("reference") if isinstance(value, dict) else None
            if isinstance(reference, str) and reference.startswith("Patient/"):
                found[reference.removeprefix("Patient/")] = None
    return list(found)


def imported_event(
    activity: str,
    requestor: Requestor,
    resources: list[dict[str, Any]],
    *,
    source: str,
    outcome: str = SUCCESS,
    description: str | None = None,
    patients: Iterable[str] = (),
) -> dict[str, Any]:
    """DICOM 110107 Import of ``resources`` read from ``source`` (a file): their patients, counts by type.

    Counts, not one entity per resource: a PhysioNet record or an NDJSON batch holds hundreds.

    :param patients: patients besides those the resources name (given ids only once stored).
    """
    counts: dict[str, int] = {}
    for resource in resources:
        counts[str(resource.get("resourceType"))] = counts.get(str(resource.get("resourceType")), 0) + 1
    details = {kind: str(count) for kind, count in sorted(counts.items())}
    return activity_event(
        IMPORT, activity, requestor=requestor, outcome=outcome,
        description=description or f"Stored {len(resources)} resources from {source}.",
        patients=[*patients_of(resources), *patients], entities=[identifier_entity("", name=source, details=details)],
    )  # fmt: skip


def activity_event(
    event_type: EventType,
    activity: str,
    *,
    requestor: Requestor,
    outcome: str = SUCCESS,
    description: str | None = None,
    patients: Iterable[str] = (),
    entities: Iterable[dict[str, Any]] = (),
    subtypes: Iterable[dict[str, str]] = (),
    agents: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The AuditEvent of one non-REST access.

    :param activity: the path, as a code of :data:`SUBTYPE_SYSTEM` (``hl7v2-message``...).
    :param description: ``outcomeDesc``: counts, or why the input was refused.
    :param patients: ids of the patients concerned (each an entity with role Patient).
    :param subtypes: further subtype codings (the HL7 message type and event).
    :param agents: agents besides the requestor and this server.
    """
    server = this_server()
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "type": {"system": DCM, "code": event_type.code, "display": event_type.display},
        "subtype": [{"system": SUBTYPE_SYSTEM, "code": activity}, *subtypes],
        "action": event_type.action,
        "recorded": format_instant(datetime.now(UTC)),
        "outcome": outcome,
        "agent": [requestor_agent(requestor), *agents, destination_agent(server)],
        "source": observer(server, "4"),
    }
    if description:
        event["outcomeDesc"] = description
    entity = [patient_entity(pid) for pid in dict.fromkeys(patients)] + list(entities)
    if entity:
        event["entity"] = entity
    return event


def record_alone(sessions: sessionmaker[Session], events: list[dict[str, Any]]) -> None:
    """Queue ``events`` in a short transaction of their own: for refusals, where no data was written.

    A database that fails here already failed the access itself, which wrote
    nothing; the error is logged rather than raised so it cannot hide the
    original failure from the caller.
    """
    try:
        with unit_of_work(sessions) as session:
            enqueue(session.connection(), events)
    except Exception:  # noqa: BLE001 - see the docstring: logged, and the access wrote nothing
        _log.exception("Could not record the audit event of a refused access")


def record_import(session: Session, activity: str, resources: list[dict[str, Any]], **options: Any) -> None:
    """Queue the :func:`imported_event` of a command run by the OS user, in ``session``'s transaction."""
    enqueue(session.connection(), [imported_event(activity, cli_user(), resources, **options)])


def record_import_refused(
    sessions: sessionmaker[Session], activity: str, resources: list[dict[str, Any]], *, source: str, why: str
) -> None:
    """:func:`record_alone` for resources the repository refused (outcome 4): the patients they name, and why."""
    record_alone(
        sessions, [imported_event(activity, cli_user(), resources, source=source, outcome=INVALID, description=why)]
    )
