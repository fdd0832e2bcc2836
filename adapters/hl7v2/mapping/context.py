"""What every segment mapper needs: the parsed message, its key, its time zone, and where to note what it skips.

A mapper that cannot map an optional part (a segment, a field) does not fail the
message: it calls :meth:`MessageContext.skip` and goes on, and the message is
acknowledged AA with one ERR of severity W per skipped part. Changes that
depend on what the server already holds (merges, cancels) are handed to
:meth:`MessageContext.change` and applied when the message is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.hl7v2.ack import AckError, ErrorCode, ErrorLocation, Severity
from adapters.hl7v2.mapping.datatypes import deterministic_id, fhir_datetime
from adapters.hl7v2.mapping.errors import MappingError
from adapters.hl7v2.parse import ParsedMessage, Segment

if TYPE_CHECKING:
    from adapters.hl7v2.mapping.changes import StoredChange

__all__ = ["MappedMessage", "MappedResource", "MessageContext"]

_T = TypeVar("_T")


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
    #: What was skipped, each an ERR of severity W in the ACK.
    warnings: list[AckError] = field(default_factory=list)
    #: Changes to stored resources, applied in order after the message's own resources are written.
    changes: list[StoredChange] = field(default_factory=list)

    @classmethod
    def of(cls, message: ParsedMessage) -> MessageContext:
        """Read the key fields from MSH."""
        msh = message.msh
        sent = msh.get(7)
        tz = sent[-5:] if len(sent) > 5 and sent[-5] in "+-" else ""
        return cls(message, msh.raw(3), msh.raw(4), msh.get(10), tz)

    def skip(self, error: MappingError, what: str) -> None:
        """Note that ``what`` was left out because of ``error``: a warning, not a failure."""
        text = f"{error} {what} was not stored; the rest of the message was."
        self.warnings.append(AckError(error.code, text, error.location, Severity.WARNING))

    def warn(self, code: ErrorCode, text: str, location: ErrorLocation | None = None) -> None:
        """Add a warning (ERR severity W) to the ACK."""
        self.warnings.append(AckError(code, text, location, Severity.WARNING))

    def optional(self, build: Callable[[], _T], what: str) -> _T | None:
        """Run ``build``; if it raises :class:`MappingError`, note ``what`` as skipped and return ``None``."""
        try:
            return build()
        except MappingError as exc:
            self.skip(exc, what)
            return None

    def change(self, change: StoredChange) -> None:
        """Queue a change to stored resources."""
        self.changes.append(change)

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


@dataclass(frozen=True, slots=True)
class MappedMessage:
    """Everything a message maps to: resources to write, changes to stored ones, warnings for the ACK."""

    resources: list[MappedResource]
    changes: list[StoredChange]
    warnings: list[AckError]
