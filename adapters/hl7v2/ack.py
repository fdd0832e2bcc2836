"""Build HL7 v2 acknowledgements (ACK) for inbound messages.

An ACK answers one message: its MSH swaps the sender (MSH-3/4) and receiver
(MSH-5/6), carries ``ACK^<trigger>^ACK`` in MSH-9, a fresh control id in
MSH-10 and the inbound MSH-11, MSH-12 and MSH-18; MSA-1 holds the code
(HL7 table 0008) and MSA-2 echoes the inbound MSH-10. Errors become ERR
segments: from v2.5 on as ERR-2 location, ERR-3 code (table 0357), ERR-4
severity and ERR-8 user message; before v2.5 as one ERR whose repeating
ERR-1 holds ``segment^sequence^field^code&text&HL70357``, the text also in
MSA-3. Before v2.3.1 MSH-9 has no structure component, so it is ``ACK^<trigger>``.

The ACK is written with the inbound delimiters, so the echoed fields are
byte-for-byte what the sender wrote; segments end with ``\\r``.

Acknowledgement modes (HL7 v2.5 chapter 2.9): with MSH-15 and MSH-16 empty,
the original mode always answers with AA, AE or AR. Otherwise the enhanced
mode answers with a commit ACK (CA, CE, CR) when MSH-15 asks for it, and the
application ACK follows later as a separate message when MSH-16 asks for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum

from adapters.hl7v2.errors import AckLoopError
from adapters.hl7v2.header import MessageHeader, is_ack, parse_header

__all__ = [
    "AckCode",
    "AckError",
    "ErrorCode",
    "ErrorLocation",
    "Severity",
    "accept_ack_required",
    "application_ack_required",
    "build_ack",
    "new_control_id",
]

_V2_3_1 = (2, 3, 1)
_V2_5 = (2, 5)


class AckCode(StrEnum):
    """MSA-1 acknowledgement codes, HL7 table 0008."""

    #: Original mode: processed / content error / rejected for reasons
    #: unrelated to content (e.g. the application is down), sender may retry.
    AA = "AA"
    AE = "AE"
    AR = "AR"
    #: Enhanced mode: committed to safe storage / not accepted for another
    #: reason / MSH-9, MSH-11 or MSH-12 rejected.
    CA = "CA"
    CE = "CE"
    CR = "CR"


class ErrorCode(IntEnum):
    """HL7 error codes, table 0357 (ERR-3)."""

    MESSAGE_ACCEPTED = 0
    SEGMENT_SEQUENCE_ERROR = 100
    REQUIRED_FIELD_MISSING = 101
    DATA_TYPE_ERROR = 102
    TABLE_VALUE_NOT_FOUND = 103
    VALUE_TOO_LONG = 104
    UNSUPPORTED_MESSAGE_TYPE = 200
    UNSUPPORTED_EVENT_CODE = 201
    UNSUPPORTED_PROCESSING_ID = 202
    UNSUPPORTED_VERSION_ID = 203
    UNKNOWN_KEY_IDENTIFIER = 204
    DUPLICATE_KEY_IDENTIFIER = 205
    APPLICATION_RECORD_LOCKED = 206
    APPLICATION_INTERNAL_ERROR = 207

    @property
    def description(self) -> str:
        """The table's text for the code, e.g. ``Required field missing``."""
        return self.name.replace("_", " ").capitalize()


class Severity(StrEnum):
    """ERR-4 severity, HL7 table 0516."""

    ERROR = "E"
    FATAL = "F"
    INFORMATION = "I"
    WARNING = "W"


@dataclass(frozen=True, slots=True)
class ErrorLocation:
    """Where an error is (ERR-2, data type ERL): ``segment^sequence^field``."""

    #: Segment ID, e.g. ``PID``.
    segment: str
    #: Which occurrence of the segment, from 1.
    sequence: int = 1
    #: Field position, or ``None`` for the whole segment.
    field: int | None = None

    def encode(self, component: str) -> str:
        """Render the location with the given component separator."""
        parts = [self.segment, str(self.sequence), "" if self.field is None else str(self.field)]
        return component.join(parts).rstrip(component)


@dataclass(frozen=True, slots=True)
class AckError:
    """One error reported in an ERR segment."""

    #: ERR-3, from table 0357.
    code: ErrorCode
    #: ERR-8 user message (MSA-3 before v2.5); escaped when written.
    message: str = ""
    #: ERR-2, when the error can be pinned to a place.
    location: ErrorLocation | None = None
    #: ERR-4.
    severity: Severity = Severity.ERROR


def new_control_id() -> str:
    """Return a fresh message control id (20 characters, the v2.5 limit for MSH-10)."""
    return uuid.uuid4().hex[:20].upper()


def _condition_met(condition: str, *, success: bool) -> bool:
    """Apply an MSH-15/MSH-16 condition (table 0155) to an outcome."""
    if condition == "NE":
        return False
    if condition == "ER":
        return not success
    if condition == "SU":
        return success
    # AL, and an empty value next to a valued partner: sending an ACK nobody
    # wanted is harmless, withholding one leaves the sender waiting.
    return True


def accept_ack_required(header: MessageHeader, *, success: bool) -> bool:
    """Whether a commit ACK (CA/CE/CR) should be sent, per MSH-15.

    :param success: whether the message was committed to safe storage.
    :returns: always ``False`` in original mode, which has no commit ACK.
    """
    if not header.enhanced_mode or is_ack(header):
        return False
    return _condition_met(header.accept_ack_type, success=success)


def application_ack_required(header: MessageHeader, *, success: bool) -> bool:
    """Whether an application ACK (AA/AE/AR) should be sent, per MSH-16.

    :param success: whether the application processed the message.
    :returns: always ``True`` in original mode, except for ACKs themselves.
    """
    if is_ack(header):
        return False
    if not header.enhanced_mode:
        return True
    return _condition_met(header.application_ack_type, success=success)


def _escape(text: str, header: MessageHeader) -> str:
    """Escape delimiters in free text (HL7 v2 section 2.7) and flatten line breaks."""
    component, repetition, escape, subcomponent = tuple(header.encoding_characters[:4])
    replacements = {
        escape: "E",
        header.field_separator: "F",
        component: "S",
        subcomponent: "T",
        repetition: "R",
    }
    if len(header.encoding_characters) > 4:
        replacements[header.encoding_characters[4]] = "P"
    text = " ".join(text.splitlines())
    return "".join(f"{escape}{replacements[c]}{escape}" if c in replacements else c for c in text)


def _err_segments(header: MessageHeader, errors: Sequence[AckError]) -> list[str]:
    """Render the ERR segment(s) in the style of the message's version."""
    fs, component, subcomponent = (
        header.field_separator,
        header.component_separator,
        header.subcomponent_separator,
    )
    if header.version and header.version < _V2_5:
        # Pre-2.5 ACKs allow a single ERR; its ERR-1 repeats once per error.
        entries = []
        for error in errors:
            location = error.location.encode(component) if error.location else ""
            location += component * (3 - location.count(component))
            code = subcomponent.join([str(int(error.code)), error.code.description, "HL70357"])
            entries.append(location + code)
        return [fs.join(["ERR", header.repetition_separator.join(entries)])]
    segments = []
    for error in errors:
        code = component.join([str(int(error.code)), error.code.description, "HL70357"])
        location = error.location.encode(component) if error.location else ""
        fields = [
            "ERR",
            "",
            location,
            code,
            str(error.severity),
            "",
            "",
            "",
            _escape(error.message, header),
        ]
        segments.append(fs.join(fields).rstrip(fs))
    return segments


def build_ack(
    message: bytes | str | MessageHeader,
    code: AckCode = AckCode.AA,
    *,
    errors: Sequence[AckError] = (),
    control_id: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """Build the acknowledgement of ``message``, encoded per its MSH-18.

    :param message: the inbound message, or its parsed header.
    :param code: MSA-1.
    :param errors: one ERR per entry, in order.
    :param control_id: MSH-10 of the ACK; a fresh one by default.
    :param now: MSH-7 of the ACK; the current UTC time by default.
    :raises HeaderError: ``message`` has no usable MSH segment.
    :raises AckLoopError: ``message`` is itself an acknowledgement.
    """
    header = message if isinstance(message, MessageHeader) else parse_header(message)
    if is_ack(header):
        raise AckLoopError(
            f"Message `{header.control_id}` of type `{header.message_type}` is itself an "
            "acknowledgement and is not acknowledged."
        )
    fs, component = header.field_separator, header.component_separator
    timestamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%z")
    version = header.version
    msh9 = ["ACK", header.trigger_event] + (["ACK"] if not version or version >= _V2_3_1 else [])
    msh = [
        "MSH", header.encoding_characters,
        header.receiving_application, header.receiving_facility,
        header.sending_application, header.sending_facility,
        timestamp, "", component.join(msh9).rstrip(component),
        control_id or new_control_id(), header.processing_id, header.version_id,
        "", "", "", "", "", header.character_set,
    ]  # fmt: skip
    msa = ["MSA", str(code), header.control_id]
    if version and version < _V2_5 and errors and errors[0].message:
        msa.append(_escape(errors[0].message, header))
    segments = [fs.join(msh).rstrip(fs), fs.join(msa)]
    if errors:
        segments += _err_segments(header, errors)
    text = "".join(segment + "\r" for segment in segments)
    # Echoed fields go back in the codec they were read with; only our own
    # diagnostic text could fall outside it.
    return text.encode(header.wire_codec, errors="replace")
