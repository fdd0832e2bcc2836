"""HL7 v2 adapter: MLLP transport and acknowledgements.

The pieces, from the wire up:

* :mod:`~adapters.hl7v2.framing`: the IO-free MLLP decoder and encoder;
* :mod:`~adapters.hl7v2.header`: reading MSH and decoding per MSH-18;
* :mod:`~adapters.hl7v2.ack`: building AA/AE/AR and CA/CE/CR acknowledgements;
* :mod:`~adapters.hl7v2.handler`: the acknowledgement rules around a store callback;
* :mod:`~adapters.hl7v2.server`: the asyncio MLLP server.

Storage is plugged in as a callback (see :func:`acknowledging_handler`); this
package does no database work and no FHIR mapping.
"""

from __future__ import annotations

from adapters.hl7v2.ack import (
    AckCode,
    AckError,
    ErrorCode,
    ErrorLocation,
    Severity,
    accept_ack_required,
    application_ack_required,
    build_ack,
    new_control_id,
)
from adapters.hl7v2.errors import (
    AckLoopError,
    CharacterSetError,
    FramingError,
    HeaderError,
    Hl7v2Error,
    MessageRejected,
)
from adapters.hl7v2.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    END_BLOCK,
    START_BLOCK,
    DecoderEvent,
    Frame,
    MllpDecoder,
    OversizeFrame,
    StrayBytes,
    encode_frame,
)
from adapters.hl7v2.handler import Handler, StoreCallback, acknowledge, acknowledging_handler
from adapters.hl7v2.header import (
    CHARACTER_SETS,
    MessageHeader,
    decode_message,
    is_ack,
    parse_header,
)
from adapters.hl7v2.server import MllpServer

__all__ = [
    "CHARACTER_SETS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "END_BLOCK",
    "START_BLOCK",
    "AckCode",
    "AckError",
    "AckLoopError",
    "CharacterSetError",
    "DecoderEvent",
    "ErrorCode",
    "ErrorLocation",
    "Frame",
    "FramingError",
    "Handler",
    "HeaderError",
    "Hl7v2Error",
    "MessageHeader",
    "MessageRejected",
    "MllpDecoder",
    "MllpServer",
    "OversizeFrame",
    "Severity",
    "StoreCallback",
    "StrayBytes",
    "accept_ack_required",
    "acknowledge",
    "acknowledging_handler",
    "application_ack_required",
    "build_ack",
    "decode_message",
    "encode_frame",
    "is_ack",
    "new_control_id",
    "parse_header",
]
