"""The AuditEvent of each HL7 v2 message stored: DICOM 110107 Import, queued with its data.

Called wherever an inbox row gets its final status (applied, error, rejected,
conflict), on the session whose transaction writes that row and the mapped
resources, so the message and its audit record commit together. An identical
resend writes nothing and is not recorded again; a message left pending for a
worker is recorded when the worker applies it.

Agents: the sending application (MSH-3) at its facility (MSH-4, as ``altId``)
from the peer's address, and this server; for ``hl7 import FILE`` the OS user is
the requestor and the sending application a further agent. Entities: the patients, every
resource written, and the message by its control id (MSH-10).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from adapters.hl7v2.inbox import DONE
from fhir_server.audit.activity import (
    IMPORT,
    INVALID,
    SUCCESS,
    Requestor,
    activity_event,
    cli_user,
    identifier_entity,
    peer_host,
    requestor_agent,
    resource_entity,
)
from fhir_server.audit.outbox import enqueue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from adapters.hl7v2.header import MessageHeader
    from models import Hl7v2Message

__all__ = ["audit_message", "audit_rows", "message_event"]

_ACTIVITY = "hl7v2-message"
#: The peer :mod:`adapters.hl7v2.file_import` gives messages read from a file: ``file:<path>``.
_FILE_PEER = "file:"
_MESSAGE_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0076"
_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0003"
#: The FHIR ``code`` datatype.
_CODE = re.compile(r"[^\s]+( [^\s]+)*")


def message_event(
    header: MessageHeader, *, peer: str | None, status: str, resources: Sequence[str], error: str | None
) -> dict[str, Any]:
    """The AuditEvent of one message.

    :param status: the inbox status (``done``: outcome 0; any other: 4, the sender's input was refused).
    :param resources: ``Type/id`` of every resource written.
    """
    kind, event = header.message_type.strip().upper(), header.trigger_event.strip().upper()
    patients = [ref.removeprefix("Patient/") for ref in resources if ref.startswith("Patient/")]
    entities = [resource_entity(ref) for ref in resources if not ref.startswith("Patient/")]
    details = {"MSH-9": f"{kind}^{event}", "resources": str(len(resources))}
    name = f"HL7 v2 {kind}^{event} message"
    entities.append(identifier_entity(header.control_id.strip(), name=name, details=details))
    # The drain stores events unvalidated: a sender's malformed MSH-9 must not become an invalid code.
    subtypes = [{"system": system, "code": code} for system, code in ((_MESSAGE_TYPE, kind), (_EVENT_TYPE, event))]
    subtypes = [coding for coding in subtypes if _CODE.fullmatch(coding["code"])]
    from_file = peer is not None and peer.startswith(_FILE_PEER)
    sender = Requestor(
        header.sending_application.strip() or "unnamed sending application",
        alt_id=header.sending_facility.strip() or None,
        address=None if from_file else peer_host(peer),
    )
    agents: list[dict[str, Any]] = []
    if from_file and peer is not None:
        # `hl7 import FILE`: the OS user asked; the sending application only wrote the message.
        agents.append(requestor_agent(sender, requesting=False))
        sender = cli_user()
        entities.append(identifier_entity("", name=peer.removeprefix(_FILE_PEER)))
    applied = status == DONE
    return activity_event(
        IMPORT, _ACTIVITY, requestor=sender, outcome=SUCCESS if applied else INVALID,
        description=f"Applied: {len(resources)} resources written." if applied else f"{status}: {error}",
        patients=patients, entities=entities, subtypes=subtypes, agents=agents,
    )  # fmt: skip


def audit_message(session: Session, header: MessageHeader, **outcome: Any) -> None:
    """Queue the :func:`message_event` of one message in ``session``'s transaction."""
    enqueue(session.connection(), [message_event(header, **outcome)])


def audit_rows(session: Session, rows: Iterable[tuple[MessageHeader, Hl7v2Message]]) -> None:
    """Queue the events of inbox rows just added to ``session`` with their final status, in one statement."""
    events = [
        message_event(
            header, peer=row.peer, status=row.status, resources=row.resources.split("\n") if row.resources else [],
            error=row.error,
        )
        for header, row in rows
    ]  # fmt: skip
    enqueue(session.connection(), events)
