"""The acknowledgement rules around a store callback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.hl7v2.ack import AckError, ErrorCode, ErrorLocation, build_ack
from adapters.hl7v2.errors import HeaderError, MessageRejected
from adapters.hl7v2.handler import acknowledge, acknowledging_handler
from adapters.hl7v2.header import MessageHeader, parse_header

Sample = Callable[[str], bytes]
Stored = list[tuple[MessageHeader, str, str]]


def msa(ack: bytes) -> list[str]:
    return ack.decode("latin-1").split("\r")[1].split("|")


def err(ack: bytes) -> str:
    return ack.decode("latin-1").split("\r")[2]


@pytest.fixture
def stored() -> Stored:
    return []


def test_stores_and_accepts(sample: Sample, stored: Stored) -> None:
    handle = acknowledging_handler(lambda *args: stored.append(args))
    raw = sample("hapi-docs-example-ADT_A01.txt")
    assert msa(handle(raw, "127.0.0.1:5000")) == ["MSA", "AA", "22139243"]
    ((header, text, peer),) = stored
    assert header.control_id == "22139243"
    assert text == raw.decode()
    assert peer == "127.0.0.1:5000"


def test_rejection_becomes_application_error(sample: Sample) -> None:
    def store(header: MessageHeader, text: str, peer: str) -> None:
        raise MessageRejected(AckError(ErrorCode.UNSUPPORTED_EVENT_CODE, "No A01 here.", ErrorLocation("MSH", 1, 9)))

    ack = acknowledging_handler(store)(sample("hapi-docs-example-ADT_A01.txt"), "peer")
    assert msa(ack) == ["MSA", "AE", "22139243", "No A01 here."]
    assert err(ack) == "ERR|MSH^1^9^201&Unsupported event code&HL70357"


def test_unknown_character_set_is_answered_without_storing(stored: Stored) -> None:
    raw = b"MSH|^~\\&|A|B|C|D|2024||ORU^R01^ORU_R01|7|P|2.5.1||||||EBCDIC\r"
    ack = acknowledging_handler(lambda *args: stored.append(args))(raw, "peer")
    assert msa(ack) == ["MSA", "AE", "7"]
    assert err(ack) == (
        "ERR||MSH^1^18|103^Table value not found^HL70357|E||||The character set `EBCDIC` in MSH-18 is not supported."
    )
    assert stored == []


def test_enhanced_mode_commit_ack(sample: Sample, stored: Stored) -> None:
    handle = acknowledging_handler(lambda *args: stored.append(args))
    ack = handle(sample("cdc-FLFHospital-SARSCOV2-20200317-0001.hl7"), "peer")
    assert msa(ack) == ["MSA", "CA", "04903212"]
    # MSH-15/16 NE/NE: nothing is sent, but the message is stored.
    assert handle(sample("cdc-CE-20200415-0001.hl7"), "peer") == b""
    assert len(stored) == 2


def test_enhanced_mode_rejection_is_commit_error(sample: Sample) -> None:
    def store(header: MessageHeader, text: str, peer: str) -> None:
        raise MessageRejected(AckError(ErrorCode.DUPLICATE_KEY_IDENTIFIER, "Seen before."))

    ack = acknowledging_handler(store)(sample("hl7apy-test_validation_literal_L43.hl7"), "peer")
    assert msa(ack) == ["MSA", "CE", "0123456789"]
    assert err(ack) == "ERR|||205^Duplicate key identifier^HL70357|E||||Seen before."


def test_acks_are_stored_but_not_answered(sample: Sample, stored: Stored) -> None:
    handle = acknowledging_handler(lambda *args: stored.append(args))
    ack = build_ack(sample("hapi-docs-example-ADT_A01.txt"))
    assert handle(ack, "peer") == b""
    assert [header.message_type for header, _, _ in stored] == ["ACK"]


def test_other_store_failures_propagate(sample: Sample) -> None:
    def store(header: MessageHeader, text: str, peer: str) -> None:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        acknowledging_handler(store)(sample("hapi-docs-example-ADT_A01.txt"), "peer")


def test_unreadable_header_propagates() -> None:
    with pytest.raises(HeaderError):
        acknowledging_handler(lambda *args: None)(b"PID|1\r", "peer")


def test_acknowledge_reject_is_ar_in_original_mode(sample: Sample) -> None:
    header = parse_header(sample("python-hl7-samples_sample_hl7.hl7"))
    internal = AckError(ErrorCode.APPLICATION_INTERNAL_ERROR, "Down.")
    assert msa(acknowledge(header, [internal], reject=True))[:3] == ["MSA", "AR", "CNTRL-3456"]
    assert msa(acknowledge(header, reject=True))[:2] == ["MSA", "AR"]


def test_message_rejected_needs_an_error() -> None:
    with pytest.raises(TypeError):
        MessageRejected()
    assert str(MessageRejected(AckError(ErrorCode.DATA_TYPE_ERROR))) == "Data type error"
