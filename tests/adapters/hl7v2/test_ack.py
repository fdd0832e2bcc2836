"""Building ACKs: exact bytes, ERR styles per version, escaping, modes, no ACK of an ACK."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hl7apy.consts import VALIDATION_LEVEL  # type: ignore[import-untyped]
from hl7apy.parser import parse_message  # type: ignore[import-untyped]

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
from adapters.hl7v2.errors import AckLoopError
from adapters.hl7v2.header import MessageHeader, is_ack, parse_header

Sample = Callable[[str], bytes]

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
MISSING_ID = AckError(ErrorCode.REQUIRED_FIELD_MISSING, "Patient identifier is missing.", ErrorLocation("PID", 1, 3))


def segments(ack: bytes) -> list[list[str]]:
    """Split an ACK into segments of fields (``|`` delimited, CR terminated)."""
    text = ack.decode()
    assert text.endswith("\r")
    return [segment.split("|") for segment in text[:-1].split("\r")]


def test_adt_a01_accept_exact_bytes(sample: Sample) -> None:
    ack = build_ack(sample("hapi-docs-example-ADT_A01.txt"), control_id="ACK1", now=NOW)
    assert ack == (b"MSH|^~\\&|system2|UHN|system1|W|20240102030405+0000||ACK^A01^ACK|ACK1|P|2.4\rMSA|AA|22139243\r")


def test_oru_r01_v251_error_exact_bytes(sample: Sample) -> None:
    ack = build_ack(
        sample("cdc-CE-20200415-0001.hl7"),
        AckCode.AE,
        errors=[MISSING_ID],
        control_id="A2",
        now=NOW,
    )
    msh, msa, err = segments(ack)
    assert msh[2:6] == [  # MSH-3..6 = inbound MSH-5, 6, 3, 4
        "AIMS.INTEGRATION.STG^2.16.840.1.114222.4.3.15.2^ISO",
        "AIMS.PLATFORM^2.16.840.1.114222.4.1.217446^ISO",
        "MYDATAHELPS.RKSTD.ST^2.16.840.1.113883.3.8589.4.2.70.2^ISO",
        "CAREEVOLUTION^00Z0000024^CLIA",
    ]
    assert msh[8:12] == ["ACK^R01^ACK", "A2", "T", "2.5.1"]
    assert msa == ["MSA", "AE", "20210408181556.d542f884-9598-eb11-aa9d-9b0caef93d5a"]
    assert "|".join(err) == ("ERR||PID^1^3|101^Required field missing^HL70357|E||||Patient identifier is missing.")


def test_oru_r01_v24_uses_pre_2_5_err(sample: Sample) -> None:
    internal = AckError(ErrorCode.APPLICATION_INTERNAL_ERROR, "Database unavailable.")
    ack = build_ack(
        sample("python-hl7-samples_sample_hl7.hl7"),
        AckCode.AR,
        errors=[MISSING_ID, internal],
        control_id="A3",
        now=NOW,
    )
    assert ack == (
        b"MSH|^~\\&|GHH OE|BLDG4|GHH LAB|ELAB-3|20240102030405+0000||ACK^R01^ACK|A3|P|2.4\r"
        b"MSA|AR|CNTRL-3456|Patient identifier is missing.\r"
        b"ERR|PID^1^3^101&Required field missing&HL70357"
        b"~^^^207&Application internal error&HL70357\r"
    )


def test_before_2_3_1_msh9_has_no_structure_component(sample: Sample) -> None:
    msh = segments(build_ack(sample("cdc-FLFHospital-SARSCOV2-20200317-0001.hl7"), AckCode.CA))[0]
    assert msh[8] == "ACK^R01"
    assert msh[11] == "2.3"


def test_several_errors_give_several_err_segments_from_2_5() -> None:
    raw = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01^ORU_R01|9|P|2.5\r"
    warning = AckError(ErrorCode.TABLE_VALUE_NOT_FOUND, "", ErrorLocation("OBX", 2), Severity.WARNING)
    ack = build_ack(raw, AckCode.AE, errors=[MISSING_ID, warning])
    assert [segment[0] for segment in segments(ack)] == ["MSH", "MSA", "ERR", "ERR"]
    assert "|".join(segments(ack)[3]) == "ERR||OBX^2|103^Table value not found^HL70357|W"


def test_user_message_is_escaped() -> None:
    raw = b"MSH|^~\\&#|A|B|C|D|2024||ORU^R01^ORU_R01|9|P|2.7\r"
    error = AckError(ErrorCode.DATA_TYPE_ERROR, "a|b^c&d~e\\f#g\nsecond line")
    err = build_ack(raw, AckCode.AE, errors=[error]).decode().split("\r")[2]
    assert err.endswith("|a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\P\\g second line")


def test_acks_use_the_inbound_delimiters() -> None:
    raw = b"MSH#$%\\*#A#B#C#D#2024##ADT$A04#5#P#2.4\r"
    ack = build_ack(raw, AckCode.AE, errors=[MISSING_ID], control_id="Z", now=NOW)
    assert ack == (
        b"MSH#$%\\*#C#D#A#B#20240102030405+0000##ACK$A04$ACK#Z#P#2.4\r"
        b"MSA#AE#5#Patient identifier is missing.\r"
        b"ERR#PID$1$3$101*Required field missing*HL70357\r"
    )


def test_latin1_ack_echoes_bytes_and_msh18() -> None:
    raw = "MSH|^~\\&|LABO|HÔPITAL|FHIR|SRV|2024||ORU^R01^ORU_R01|L1|P|2.5.1||||||8859/1\r"
    ack = build_ack(raw.encode("latin-1"), control_id="X", now=NOW)
    assert ack == (
        "MSH|^~\\&|FHIR|SRV|LABO|HÔPITAL|20240102030405+0000||ACK^R01^ACK|X|P|2.5.1||||||8859/1\rMSA|AA|L1\r"
    ).encode("latin-1")


def test_unknown_character_set_is_echoed_byte_for_byte() -> None:
    raw = b"MSH|^~\\&|L\xc4B|F|R|S|2024||ORU^R01|1|P|2.5||||||EBCDIC\r"
    ack = build_ack(raw, AckCode.AE, errors=[MISSING_ID])
    assert b"|R|S|L\xc4B|F|" in ack


def test_bytes_that_do_not_fit_msh18_are_echoed_byte_for_byte() -> None:
    raw = b"MSH|^~\\&|L\xc4B|F|R|S|2024||ORU^R01|1|P|2.5||||||UNICODE UTF-8\r"
    ack = build_ack(raw, AckCode.AE, errors=[MISSING_ID])
    assert b"|R|S|L\xc4B|F|" in ack
    assert ack.split(b"\r")[0].endswith(b"|UNICODE UTF-8")


def test_enhanced_mode_commit_accept(sample: Sample) -> None:
    raw = sample("cdc-FLFHospital-SARSCOV2-20200317-0001.hl7")
    header = parse_header(raw)
    assert accept_ack_required(header, success=True)
    assert segments(build_ack(header, AckCode.CA))[1] == ["MSA", "CA", "04903212"]


def test_fresh_control_ids(sample: Sample) -> None:
    raw = sample("hapi-docs-example-ADT_A01.txt")
    first, second = (segments(build_ack(raw))[0][9] for _ in range(2))
    assert first != second
    assert len(new_control_id()) == 20


def test_an_ack_is_never_acknowledged(sample: Sample) -> None:
    ack = build_ack(sample("hapi-docs-example-ADT_A01.txt"))
    assert is_ack(ack)
    with pytest.raises(AckLoopError, match="is itself an acknowledgement"):
        build_ack(ack)
    with pytest.raises(AckLoopError):
        build_ack(sample("hapi-cv.04_001_chem.hl7"))
    header = parse_header(ack)
    assert not application_ack_required(header, success=False)
    assert not accept_ack_required(header, success=False)


def _header(msh15: str, msh16: str) -> MessageHeader:
    return parse_header(f"MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5|||{msh15}|{msh16}\r")


@pytest.mark.parametrize(
    ("condition", "on_success", "on_error"),
    [("AL", True, True), ("NE", False, False), ("ER", False, True), ("SU", True, False)],
)
def test_enhanced_mode_conditions(condition: str, on_success: bool, on_error: bool) -> None:
    accept = _header(condition, "NE")
    assert accept_ack_required(accept, success=True) is on_success
    assert accept_ack_required(accept, success=False) is on_error
    application = _header("NE", condition)
    assert application_ack_required(application, success=True) is on_success
    assert application_ack_required(application, success=False) is on_error


def test_original_mode_always_wants_the_application_ack_only() -> None:
    header = _header("", "")
    assert application_ack_required(header, success=True)
    assert application_ack_required(header, success=False)
    assert not accept_ack_required(header, success=True)


def test_empty_condition_next_to_a_valued_one_means_always(sample: Sample) -> None:
    # hl7apy's ADT^A01 sample: MSH-15 empty, MSH-16 AL.
    header = parse_header(sample("hl7apy-test_validation_literal_L43.hl7"))
    assert header.enhanced_mode
    assert accept_ack_required(header, success=True)
    assert accept_ack_required(header, success=False)


@pytest.mark.parametrize("version", ["2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8"])
def test_acks_pass_hl7apy_strict_validation(version: str) -> None:
    raw = f"MSH|^~\\&|A|B|C|D|20240101||ADT^A01^ADT_A01|CTRL9|P|{version}\r".encode()
    ack = build_ack(raw, AckCode.AE, errors=[MISSING_ID])
    message = parse_message(ack.decode(), validation_level=VALIDATION_LEVEL.STRICT)
    assert message.validate()
    assert message.msa.msa_1.value == "AE"
    assert message.msa.msa_2.value == "CTRL9"
    assert message.msh.msh_9.to_er7() == "ACK^A01^ACK"
