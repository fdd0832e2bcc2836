"""Why a message cannot be mapped: each error becomes one ERR segment.

::

    MappingError (Hl7v2Error)       AE: the message parses but cannot become FHIR
    └── UnsupportedMessage          AR: a message type or event this adapter does not map
"""

from __future__ import annotations

from adapters.hl7v2.ack import AckError, ErrorCode, ErrorLocation
from adapters.hl7v2.errors import Hl7v2Error

__all__ = ["MappingError", "UnsupportedMessage"]


class MappingError(Hl7v2Error):
    """A message parsed but cannot be mapped; names the segment and field at fault.

    :param message: a whole sentence saying what is wrong, quoting the value.
    :param segment: the segment id, e.g. ``OBX``.
    :param sequence: which occurrence of the segment, from 1.
    :param field: the field position, if one is at fault.
    :param code: the HL7 table 0357 error code.
    """

    #: Code for a required segment that is absent.
    SEGMENT_MISSING = ErrorCode.SEGMENT_SEQUENCE_ERROR

    def __init__(
        self,
        message: str,
        segment: str,
        sequence: int = 1,
        field: int | None = None,
        code: ErrorCode = ErrorCode.DATA_TYPE_ERROR,
    ) -> None:
        super().__init__(message)
        #: Where the error is, for ERR-2.
        self.location = ErrorLocation(segment, sequence, field)
        #: ERR-3.
        self.code = code

    @property
    def where(self) -> str:
        """The location as ``SEG[n]-f``, for logs and the inbox."""
        loc = self.location
        field = f"-{loc.field}" if loc.field is not None else ""
        return f"{loc.segment}[{loc.sequence}]{field}"

    def ack_error(self) -> AckError:
        """The ERR segment content for this error."""
        return AckError(self.code, str(self), self.location)


class UnsupportedMessage(MappingError):
    """The message type or trigger event is not one this adapter maps."""
