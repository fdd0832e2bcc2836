"""HL7 v2 messages to FHIR R4 resources, after the HL7 v2-to-FHIR IG (http://hl7.org/fhir/uv/v2mappings/).

:func:`to_fhir` is IO-free: text in, resources with deterministic ids out.
Writing them is :mod:`adapters.hl7v2.processing`'s job.
"""

from __future__ import annotations

from adapters.hl7v2.ack import ErrorCode
from adapters.hl7v2.mapping.adt import ADT_EVENTS, map_adt
from adapters.hl7v2.mapping.context import MappedResource, MessageContext
from adapters.hl7v2.mapping.errors import MappingError, UnsupportedMessage
from adapters.hl7v2.mapping.orders import map_order, map_vxu
from adapters.hl7v2.mapping.oru import map_oru
from adapters.hl7v2.parse import ParsedMessage, parse_message

__all__ = ["SUPPORTED", "MappedResource", "MappingError", "UnsupportedMessage", "to_fhir"]

#: The message types and events mapped, for documentation and error messages.
SUPPORTED = {
    "ADT": ADT_EVENTS,
    "ORU": frozenset({"R01"}),
    "VXU": frozenset({"V04"}),
    "ORM": frozenset({"O01"}),
    "OMG": frozenset({"O19"}),
}


def to_fhir(message: str | ParsedMessage) -> list[MappedResource]:
    """Map a decoded message to FHIR resources.

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
        return map_adt(context, event)
    if kind == "ORU":
        return map_oru(context)
    if kind == "VXU":
        return map_vxu(context)
    return map_order(context)
