"""What every segment mapper needs: the parsed message, its key and its time zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.hl7v2.mapping.datatypes import deterministic_id, fhir_datetime
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.parse import ParsedMessage, Segment

__all__ = ["MappedResource", "MessageContext"]


@dataclass(frozen=True, slots=True)
class MappedResource:
    """One resource the message maps to, with its deterministic id set."""

    resource: dict[str, Any]
    #: ``False``: write only when absent, so a Patient copied into a lab result
    #: does not overwrite the registration feed's fuller copy.
    replace: bool = True

    @property
    def reference(self) -> str:
        """``Type/id`` of the resource."""
        return f"{self.resource['resourceType']}/{self.resource['id']}"


@dataclass(frozen=True, slots=True)
class MessageContext:
    """A parsed message and the values derived from its MSH."""

    message: ParsedMessage
    sending_application: str
    sending_facility: str
    control_id: str
    #: The zone of MSH-7, given to times that carry none (FHIR requires one).
    default_tz: str

    @classmethod
    def of(cls, message: ParsedMessage) -> MessageContext:
        """Read the key fields from MSH."""
        msh = message.msh
        sent = msh.get(7)
        tz = sent[-5:] if len(sent) > 5 and sent[-5] in "+-" else ""
        return cls(message, msh.raw(3), msh.raw(4), msh.get(10), tz)

    def scoped_id(self, resource_type: str, *parts: str) -> str:
        """An id unique to this message (sender, MSH-10) and ``parts``."""
        key = (self.sending_application, self.sending_facility, self.control_id, *parts)
        return deterministic_id(resource_type, *key)

    def datetime(self, segment: Segment, field: int, component: int = 1) -> str | None:
        """A DTM field as a FHIR dateTime.

        :raises MappingError: the value is not a DTM.
        """
        raw = segment.get(field, component)
        if not raw:
            return None
        value = fhir_datetime(raw, self.default_tz)
        if value is None:
            raise MappingError(
                f"`{raw}` in {segment.name}-{field} is not an HL7 date/time (YYYYMMDDHHMMSS±ZZZZ).",
                segment.name,
                segment.sequence,
                field,
            )
        return value

    def required(self, name: str) -> Segment:
        """The first ``name`` segment.

        :raises MappingError: the message has none.
        """
        segment = self.message.first(name)
        if segment is None:
            raise MappingError(
                f"The message has no {name} segment, which this message type requires.",
                name,
                code=MappingError.SEGMENT_MISSING,
            )
        return segment
