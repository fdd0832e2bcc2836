"""Read just enough of an HL7 v2 message header (MSH) to acknowledge it.

A full parser (hl7apy) refuses exactly the malformed messages that most need
an error ACK, and loads a whole version library per message; the fields an
ACK needs are found by splitting one segment. Fields are kept as they were
encoded so they can be echoed byte-for-byte with the same delimiters.

Character sets follow MSH-18 (HL7 table 0211). The MSH segment is first read
as Latin-1, which maps every byte to one character, to find MSH-18; the
header is then decoded with the declared set. Every set supported here is
ASCII-compatible, which is what makes that bootstrap sound; UTF-16/32 are not.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from adapters.hl7v2.errors import CharacterSetError, HeaderError

__all__ = [
    "CHARACTER_SETS",
    "MessageHeader",
    "decode_message",
    "is_ack",
    "parse_header",
]

#: HL7 table 0211 values (and the common ``UTF-8`` spelling) → Python codec.
#: An empty MSH-18 means ASCII; it is decoded as UTF-8, a strict superset.
CHARACTER_SETS: dict[str, str] = {
    "ASCII": "ascii",
    **{f"8859/{n}": f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
    "BIG-5": "big5",
}

_DEFAULT_CODEC = "utf-8"
_BATCH_HEADERS = (b"FHS", b"BHS")
# MCF is the v2.1/v2.2 delayed acknowledgement; it is an ACK in all but name.
_ACK_TYPES = frozenset({"ACK", "MCF"})


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The MSH fields an acknowledgement needs, as encoded in the message.

    Composite fields are kept whole (e.g. ``sending_application`` may be
    ``APP^1.2.3^ISO``) so that they can be echoed unchanged.
    """

    #: MSH-1, usually ``|``.
    field_separator: str
    #: MSH-2: component, repetition, escape, subcomponent (and v2.7 truncation).
    encoding_characters: str
    #: MSH-3 to MSH-6.
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    #: MSH-9 components 1 to 3 (first repetition).
    message_type: str
    trigger_event: str
    message_structure: str
    #: MSH-10, echoed in MSA-2.
    control_id: str
    #: MSH-11 and MSH-12, whole fields.
    processing_id: str
    version_id: str
    #: MSH-15 and MSH-16 (table 0155: AL, NE, ER, SU), empty when absent.
    accept_ack_type: str
    application_ack_type: str
    #: MSH-18 whole field; its first repetition is the message's character set.
    character_set: str
    #: Whether a later segment is MSA, i.e. the message is a response.
    has_msa: bool = False
    #: The codec the MSH segment was read with (Latin-1 when MSH-18 is unknown
    #: or does not fit the bytes); ACKs are encoded with it, so echoed fields
    #: go back byte-for-byte.
    wire_codec: str = field(default=_DEFAULT_CODEC, compare=False)

    @property
    def component_separator(self) -> str:
        """The component separator from MSH-2."""
        return self.encoding_characters[0]

    @property
    def repetition_separator(self) -> str:
        """The repetition separator from MSH-2."""
        return self.encoding_characters[1]

    @property
    def escape_character(self) -> str:
        """The escape character from MSH-2."""
        return self.encoding_characters[2]

    @property
    def subcomponent_separator(self) -> str:
        """The subcomponent separator from MSH-2."""
        return self.encoding_characters[3]

    @property
    def version(self) -> tuple[int, ...]:
        """MSH-12.1 as numbers, e.g. ``(2, 5, 1)``; ``()`` if unreadable."""
        text = self.version_id.split(self.component_separator)[0].strip()
        try:
            return tuple(int(part) for part in text.split("."))
        except ValueError:
            return ()

    @property
    def primary_character_set(self) -> str:
        """The first repetition of MSH-18, upper-cased and trimmed."""
        return self.character_set.split(self.repetition_separator)[0].strip().upper()

    @property
    def codec(self) -> str | None:
        """The Python codec for MSH-18; ``None`` if the set is not supported."""
        return _codec_for(self.character_set, self.encoding_characters)

    @property
    def enhanced_mode(self) -> bool:
        """Whether enhanced acknowledgement rules apply (MSH-15 or MSH-16 valued)."""
        return bool(self.accept_ack_type or self.application_ack_type)


def _strip_bom(data: bytes) -> bytes:
    """Drop a UTF-8 byte order mark some senders put before MSH."""
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def _split_msh(data: bytes) -> tuple[bytes, bool]:
    """Return the MSH segment bytes and whether an MSA segment follows."""
    data = _strip_bom(data).lstrip(b"\r\n")
    if data[:3] in _BATCH_HEADERS:
        raise HeaderError(f"The message starts with `{data[:3].decode()}`: batches are not acknowledged here.")
    if not data.startswith(b"MSH") or len(data) < 4:
        raise HeaderError(f"The message starts with `{data[:8]!r}` instead of an MSH segment.")
    # Over MLLP segments end with CR, but files and some senders use LF.
    end = len(data)
    for terminator in (b"\r", b"\n"):
        found = data.find(terminator)
        if found != -1:
            end = min(end, found)
    msa = re.compile(rb"[\r\n]MSA" + re.escape(data[3:4]))
    return data[:end], msa.search(data, end) is not None


def _fields(msh: str) -> list[str]:
    """Split an MSH segment so that ``fields[n - 1]`` is MSH-n for n >= 2."""
    if len(msh) < 8:
        raise HeaderError(f"The MSH segment `{msh}` is too short to hold MSH-1 and MSH-2.")
    separator = msh[3]
    fields = msh.split(separator)
    encoding = fields[1]
    if separator.isalnum() or len(encoding) not in (4, 5):
        raise HeaderError(
            f"MSH-1 `{separator}` and MSH-2 `{encoding}` are not valid delimiters: "
            "MSH-2 must hold 4 or 5 encoding characters."
        )
    delimiters = separator + encoding
    if len(set(delimiters)) != len(delimiters) or any(c.isalnum() for c in delimiters):
        raise HeaderError(f"The delimiters `{delimiters}` in MSH-1/MSH-2 are not distinct symbols.")
    return fields


def parse_header(message: bytes | str) -> MessageHeader:
    """Read the MSH segment of ``message``.

    :param message: the raw message, or a message already decoded to text.
    :raises HeaderError: there is no usable MSH segment.
    """
    if isinstance(message, str):
        text = message.lstrip("\ufeff\r\n")
        # Only the delimiters and segment names matter here, all ASCII.
        _, has_msa = _split_msh(text.encode("latin-1", "replace"))
        msh = text.replace("\n", "\r").split("\r")[0]
        wire_codec = ""  # chosen below from MSH-18
    else:
        msh_bytes, has_msa = _split_msh(message)
        msh, wire_codec = _decode_header(msh_bytes)
    fields = _fields(msh)

    def msh_field(number: int) -> str:
        return fields[number - 1] if number - 1 < len(fields) else ""

    encoding = fields[1]
    message_type = msh_field(9).split(encoding[1])[0].split(encoding[0])
    message_type += [""] * (3 - len(message_type))
    return MessageHeader(
        field_separator=msh[3],
        encoding_characters=encoding,
        sending_application=msh_field(3),
        sending_facility=msh_field(4),
        receiving_application=msh_field(5),
        receiving_facility=msh_field(6),
        message_type=message_type[0].strip(),
        trigger_event=message_type[1].strip(),
        message_structure=message_type[2].strip(),
        control_id=msh_field(10),
        processing_id=msh_field(11),
        version_id=msh_field(12),
        accept_ack_type=msh_field(15).strip().upper(),
        application_ack_type=msh_field(16).strip().upper(),
        character_set=msh_field(18),
        has_msa=has_msa,
        wire_codec=wire_codec or _codec_for(msh_field(18), encoding) or "latin-1",
    )


def _codec_for(charset: str, encoding: str) -> str | None:
    """The codec for an MSH-18 value (first repetition); ``None`` if unsupported."""
    name = charset.split(encoding[1])[0].strip().upper()
    return CHARACTER_SETS.get(name) if name else _DEFAULT_CODEC


def _decode_header(msh: bytes) -> tuple[str, str]:
    """Decode the MSH bytes with the MSH-18 set when it is known and fits; name the codec."""
    bootstrap = msh.decode("latin-1")
    try:
        fields = _fields(bootstrap)
    except HeaderError:
        return bootstrap, "latin-1"
    codec = _codec_for(fields[17] if len(fields) > 17 else "", fields[1])
    if codec is None:
        return bootstrap, "latin-1"
    try:
        return msh.decode(codec), codec
    except UnicodeDecodeError:
        # Keep the bytes readable so an error ACK can still echo MSH-10.
        return bootstrap, "latin-1"


def decode_message(message: bytes) -> str:
    """Decode a whole message using the character set named in MSH-18.

    :param message: the raw message bytes.
    :raises HeaderError: there is no usable MSH segment.
    :raises CharacterSetError: MSH-18 is not supported, or the bytes are not
        valid in it.
    """
    header = parse_header(message)
    codec = header.codec
    if codec is None:
        raise CharacterSetError(f"The character set `{header.primary_character_set}` in MSH-18 is not supported.")
    try:
        return _strip_bom(message).decode(codec)
    except UnicodeDecodeError as exc:
        label = header.primary_character_set or "ASCII/UTF-8 (MSH-18 empty)"
        raise CharacterSetError(
            f"Byte {exc.object[exc.start]:#04x} at offset {exc.start} is not valid in the character set `{label}`."
        ) from exc


def is_ack(message: bytes | str | MessageHeader) -> bool:
    """Whether ``message`` is itself an acknowledgement and must not be acknowledged.

    True for MSH-9 ``ACK`` (and the legacy ``MCF``), and, in original mode,
    for a response carrying an MSA segment (e.g. ``RSP``, ``ORR``), because such
    a response *is* the acknowledgement of the sender's request.

    :raises HeaderError: ``message`` has no usable MSH segment.
    """
    header = message if isinstance(message, MessageHeader) else parse_header(message)
    if header.message_type.upper() in _ACK_TYPES:
        return True
    return header.has_msa and not header.enhanced_mode
