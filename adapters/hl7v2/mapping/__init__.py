"""HL7 v2 messages to FHIR R4 resources, after the HL7 v2-to-FHIR IG (http://hl7.org/fhir/uv/v2mappings/).

:func:`to_fhir` is IO-free: text in, resources with deterministic ids out.
Writing them is :mod:`adapters.hl7v2.processing`'s job.
"""

from __future__ import annotations

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.adt import ADT_EVENTS, map_adt
from adapters.hl7v2.mapping.changes import EncounterWrite, PatientWrite
from adapters.hl7v2.mapping.context import MappedMessage, MappedResource, MessageContext
from adapters.hl7v2.mapping.errors import MappingError, UnsupportedMessage
from adapters.hl7v2.mapping.orders import map_order, map_vxu
from adapters.hl7v2.mapping.oru import map_oru
from adapters.hl7v2.parse import ParsedMessage, parse_message

__all__ = [
    "SUPPORTED",
    "MappedMessage",
    "MappedResource",
    "MappingError",
    "UnsupportedMessage",
    "map_message",
    "to_fhir",
]

#: The message types and events mapped, for documentation and error messages.
SUPPORTED = {
    "ADT": frozenset(ADT_EVENTS),
    "ORU": frozenset({"R01"}),
    "VXU": frozenset({"V04"}),
    "ORM": frozenset({"O01"}),
    "OMG": frozenset({"O19"}),
}


def to_fhir(message: str | ParsedMessage) -> list[MappedResource]:
    """The resources a message maps to, as written when the server holds nothing yet.

    IO-free; see :func:`map_message` for the changes to stored records and the warnings.

    :raises ParseError: the text is not an HL7 v2 message.
    :raises UnsupportedMessage: MSH-9 names a type or event not mapped here.
    :raises MappingError: the message cannot be mapped; names segment and field.
    """
    mapped = map_message(message)
    written = []
    for change in mapped.changes:
        if isinstance(change, PatientWrite):
            written.append(MappedResource(change.patient))
        elif isinstance(change, EncounterWrite):
            written.append(MappedResource({**change.encounter, "status": change.status or change.encounter["status"]}))
    return written + mapped.resources


def map_message(message: str | ParsedMessage) -> MappedMessage:
    """Map a decoded message: resources to write, changes to stored records, warnings for the ACK.

    :raises ParseError: the text is not an HL7 v2 message.
    :raises UnsupportedMessage: MSH-9 names a type or event not mapped here.
    :raises MappingError: the message cannot be mapped; names segment and field.
    """
    parsed = parse_message(message) if isinstance(message, str) else message
    msh = parsed.msh
    kind, event = msh.get(9, 1).upper(), msh.get(9, 2).upper()
    if kind not in SUPPORTED:
        raise UnsupportedMessage(
            f"Message type `{kind}` in MSH-9 is not supported; supported are {', '.join(sorted(SUPPORTED))}.",
            "MSH", 1, 9, ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
        )  # fmt: skip
    if event not in SUPPORTED[kind]:
        raise UnsupportedMessage(
            f"Trigger event `{event}` of message type `{kind}` in MSH-9 is not supported.",
            "MSH", 1, 9, ErrorCode.UNSUPPORTED_EVENT_CODE,
        )  # fmt: skip
    context = MessageContext.of(parsed)
    if kind == "ADT":
        resources = map_adt(context, event)
    elif kind == "ORU":
        resources = map_oru(context)
    elif kind == "VXU":
        resources = map_vxu(context)
    else:
        resources = map_order(context)
    return MappedMessage(resources, context.changes, context.warnings)
