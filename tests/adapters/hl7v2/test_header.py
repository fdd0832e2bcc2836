"""Reading MSH: delimiters, fields, MSH-18 character sets, ACK detection."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.hl7v2.errors import CharacterSetError, HeaderError
from adapters.hl7v2.header import MessageHeader, decode_message, is_ack, parse_header

Sample = Callable[[str], bytes]

LATIN1 = (
    "MSH|^~\\&|LABO|HÔPITAL|FHIR|SRV|20240101120000||ORU^R01^ORU_R01|L1|P|2.5.1||||||8859/1\r"
    "PID|1||42^^^HÔPITAL^MR||Müller^Zoë\r"
).encode("latin-1")


def test_adt_a01_header(sample: Sample) -> None:
    header = parse_header(sample("hapi-docs-example-ADT_A01.txt"))
    assert header == MessageHeader(
        field_separator="|",
        encoding_characters="^~\\&",
        sending_application="system1",
        sending_facility="W",
        receiving_application="system2",
        receiving_facility="UHN",
        message_type="ADT",
        trigger_event="A01",
        message_structure="ADT_A01",
        control_id="22139243",
        processing_id="P",
        version_id="2.4",
        accept_ack_type="",
        application_ack_type="",
        character_set="",
        has_msa=False,
    )
    assert header.version == (2, 4)
    assert not header.enhanced_mode
    assert header.codec == "utf-8"


def test_oru_header_keeps_composite_fields_whole(sample: Sample) -> None:
    header = parse_header(sample("cdc-CE-20200415-0001.hl7"))
    assert header.sending_application == ("MYDATAHELPS.RKSTD.ST^2.16.840.1.113883.3.8589.4.2.70.2^ISO")
    assert header.receiving_facility == "AIMS.PLATFORM^2.16.840.1.114222.4.1.217446^ISO"
    assert (header.message_type, header.trigger_event) == ("ORU", "R01")
    assert header.control_id == "20210408181556.d542f884-9598-eb11-aa9d-9b0caef93d5a"
    assert (header.accept_ack_type, header.application_ack_type) == ("NE", "NE")
    assert header.enhanced_mode
    assert header.version == (2, 5, 1)


def test_lf_separated_file_reads_only_the_msh_line() -> None:
    raw = b"MSH|^~\\&|HL7LAB_IN^Orchard|FLH|SCM|FLH|20210317115320||ORU^R01|04903212|T|2.3|||AL|NE\nPID|1\n"
    header = parse_header(raw)
    assert header.application_ack_type == "NE"
    assert header.processing_id == "T"


def test_str_input() -> None:
    header = parse_header("\ufeffMSH|^~\\&|应用|B|C|D|20240101||ADT^A04|9|P|2.5\rEVN|A04\r")
    assert (header.message_type, header.trigger_event, header.control_id) == ("ADT", "A04", "9")
    assert header.sending_application == "应用"


def test_byte_order_mark_and_leading_newlines_are_skipped() -> None:
    header = parse_header(b"\xef\xbb\xbf\r\nMSH|^~\\&|A|B|C|D|20240101||ADT^A04|7|P|2.5\r")
    assert header.control_id == "7"


def test_other_delimiters_and_five_encoding_characters() -> None:
    header = parse_header(b"MSH#$%\\*!#A#B#C#D#2024##RSP$K22$RSP_K21#5#D#2.7\r")
    assert header.field_separator == "#"
    assert header.encoding_characters == "$%\\*!"
    assert (header.message_type, header.trigger_event, header.message_structure) == (
        "RSP",
        "K22",
        "RSP_K21",
    )
    assert header.subcomponent_separator == "*"


def test_message_type_written_as_repetition_keeps_first_repetition() -> None:
    # Seen in the wild (HAPI's segmentfinder sample): MSH-9 `ADT~A24`.
    header = parse_header(b"MSH|^~\\&|A|B|C|D|20240101||ADT~A24|1|P|2.4\r")
    assert (header.message_type, header.trigger_event) == ("ADT", "")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"PID|1||42\r", "instead of an MSH segment"),
        (b"", "instead of an MSH segment"),
        (b"FHS|^~\\&|A\rBHS|^~\\&\rMSH|^~\\&|A\r", "`FHS`: batches are not acknowledged"),
        (b"MSH|^~\r", "too short"),
        (b"MSH|^~\\\\&|SE050|050|PACS\r", "not distinct symbols"),
        (b"MSH|^~|A|B|C|D|E\r", "4 or 5 encoding characters"),
        (b"MSHA^~\\&A\r", "not valid delimiters"),
    ],
)
def test_unusable_headers(raw: bytes, message: str) -> None:
    with pytest.raises(HeaderError, match=message):
        parse_header(raw)


def test_latin1_via_msh18() -> None:
    header = parse_header(LATIN1)
    assert header.primary_character_set == "8859/1"
    assert header.codec == "iso8859-1"
    assert header.sending_facility == "HÔPITAL"
    assert "Müller^Zoë" in decode_message(LATIN1)


def test_hapi_latin1_sample_decodes(sample: Sample) -> None:
    text = decode_message(sample("hapi-cv.04_001_chem.hl7"))
    assert text.startswith("MSH|^~\\&|^OLIS^X500|")


def test_utf8_is_the_default_and_first_msh18_repetition_wins() -> None:
    raw = "MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1||||||UTF-8~UNICODE\rPID|1||||Zoë\r"
    assert decode_message(raw.encode()) == raw
    no_charset = "MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1\rPID|1||||Zoë\r"
    assert decode_message(no_charset.encode()) == no_charset


def test_bytes_invalid_in_the_declared_set_are_an_error() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1\rPID|1||||Zo\xeb\r"
    offset = raw.index(b"\xeb")
    with pytest.raises(CharacterSetError, match=f"Byte 0xeb at offset {offset} is not valid"):
        decode_message(raw)
    # The header is still readable, so the sender can be told.
    assert parse_header(raw).control_id == "1"


def test_unknown_character_set_is_an_error() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1||||||EBCDIC\r"
    assert parse_header(raw).codec is None
    with pytest.raises(CharacterSetError, match="`EBCDIC` in MSH-18 is not supported"):
        decode_message(raw)


def test_acks_are_recognised() -> None:
    assert is_ack(b"MSH|^~\\&|A|B|C|D|2024||ACK^A01^ACK|1|P|2.5\rMSA|AA|9\r")
    assert is_ack(b"MSH|^~\\}|A|B|C|D|2024||ACK^|1|P|2.1\rMSA|AA|9\r")
    assert is_ack(b"MSH|^~\\&|A|B|C|D|2024||MCF|1|P|2.1\rMSA|AA|9\r")
    assert not is_ack(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rPID|1\r")


def test_original_mode_response_with_msa_counts_as_ack(sample: Sample) -> None:
    raw = sample("hapi-cv.04_001_chem.hl7")
    assert parse_header(raw).has_msa
    assert is_ack(raw)


def test_enhanced_mode_response_is_not_an_ack() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|2024||RSP^K22^RSP_K21|1|P|2.5|||AL|NE\rMSA|AA|9\r"
    assert not is_ack(raw)


def test_msa_inside_text_does_not_count() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5\rOBX|1|TX|||see MSA\rNTE|1||MSA-like\r"
    assert not parse_header(raw).has_msa
