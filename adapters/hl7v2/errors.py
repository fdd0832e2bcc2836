"""Exceptions raised by the HL7 v2 adapter.

Every error the adapter raises on purpose derives from :class:`Hl7v2Error`::

    Hl7v2Error (ValueError)
    ├── FramingError        a payload cannot be put in an MLLP frame
    ├── HeaderError         no usable MSH segment (missing, bad MSH-1/MSH-2, batch envelope)
    ├── CharacterSetError   MSH-18 names an unsupported character set, or the bytes do not decode
    ├── AckLoopError        asked to acknowledge a message that is itself an acknowledgement
    └── MessageRejected     raised by a store callback to answer with an error ACK (AE / CE)

Error messages are whole sentences that quote the offending value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.hl7v2.ack import AckError

__all__ = [
    "AckLoopError",
    "CharacterSetError",
    "FramingError",
    "HeaderError",
    "Hl7v2Error",
    "MessageRejected",
]


class Hl7v2Error(ValueError):
    """Base class of every error the HL7 v2 adapter raises on purpose."""


class FramingError(Hl7v2Error):
    """A payload cannot be framed because it contains an MLLP block character."""


class HeaderError(Hl7v2Error):
    """The message has no MSH segment the adapter can read."""


class CharacterSetError(Hl7v2Error):
    """MSH-18 names an unsupported character set, or the bytes are invalid in it."""


class AckLoopError(Hl7v2Error):
    """Refusal to acknowledge a message that is itself an acknowledgement.

    Two engines that acknowledge each other's ACKs would ping-pong forever, so
    the adapter never builds an ACK for an ACK.
    """


class MessageRejected(Hl7v2Error):
    """Raised by a store callback to refuse a message with HL7 error details.

    :param errors: the ERR segments to send, most important first.
    """

    def __init__(self, *errors: AckError) -> None:
        if not errors:
            raise TypeError("MessageRejected needs at least one AckError.")
        super().__init__("; ".join(error.message or error.code.description for error in errors))
        #: The errors reported in the ERR segments of the error ACK.
        self.errors: tuple[AckError, ...] = errors
