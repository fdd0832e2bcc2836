"""The listener as a sender sees it: python-hl7's ``mllp_send`` in its own process, and raw sockets.

Covers each mapped message type from the sample set, every ACK code in both
acknowledgement modes, duplicates, broken framing and oversize messages
(SQLite and PostgreSQL).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2.framing import Frame, MllpDecoder, encode_frame

from .e2e import TIMEOUT, MllpClient, err, mllp_send, msa, read, rows, running
from .test_listener import ORU

pytest.importorskip("hl7.client", reason="the `hl7` package (test extra) provides mllp_send")

VXU = (
    "MSH|^~\\&|IIS|CLINIC|FHIR|FHIR|20240101120000-0500||VXU^V04^VXU_V04|VXU0001|P|2.5.1\r"
    "PID|1||P1^^^CLINIC^MR||Doe^Jane||20200101|F\r"
    "ORC|RE||197023^CLINIC\r"
    "RXA|0|1|20240101103000|20240101103000|08^Hep B^CVX|0.5|mL^mL^UCUM||00^New record^NIP001||||||L123|20250101|MSD^Merck^MVX|||CP|A\r"
)
ENHANCED = "|P|2.5.1|||AL|NE\r"


def port_of(client: MllpClient) -> int:
    port: int = client.sock.getpeername()[1]
    return port


# The shared sample set has no VXU, so that one is written here (as in test_mapping).
@pytest.mark.parametrize(
    ("name", "code", "types"),
    [
        ("hapi-docs-example-ADT_A01.txt", "AA", {"Patient", "Encounter", "Coverage"}),  # IN1 -> Coverage
        ("reportstream/CA-20211001-sully.hl7", "AA", {"Patient", "DiagnosticReport", "Observation"}),
        ("python-hl7-samples_sample_hl7.hl7", "AE", set()),  # OBX-2 `FN` is not mapped
        ("cdc-sample_orm_20230809-001.hl7", "CA", {"Patient", "ServiceRequest"}),  # MSH-15/16 AL
        ("VXU", "AA", {"Patient", "Immunization"}),
    ],
)
def test_each_message_type_from_mllp_send(
    factory: sessionmaker[Session],
    sample: Callable[[str], bytes],
    wait_for: Callable[..., None],
    name: str,
    code: str,
    types: set[str],
) -> None:
    message = VXU.encode() if name == "VXU" else sample(name)
    with running(factory) as client:
        [ack] = mllp_send(port_of(client), [message])
        assert msa(ack)[1] == code
        # Enhanced mode (CA) is mapped by the listener's worker after the ACK.
        wait_for(lambda: rows(factory)[0].status != "pending")
    [row] = rows(factory)
    assert row.status == ("error" if code == "AE" else "done")
    references = (row.resources or "").split("\n") if row.resources else []
    assert {r.split("/")[0] for r in references} == types
    for reference in references:
        assert read(factory, reference)["meta"]["versionId"] == "1"


def test_original_mode_aa_ae_ar(factory: sessionmaker[Session]) -> None:
    unmappable = ORU.replace("LAB0001", "LAB0002").replace("||182|", "||high|")
    unsupported = ORU.replace("LAB0001", "LAB0003").replace("ORU^R01^ORU_R01", "QRY^A19^QRY_A19")
    with running(factory) as client:
        acks = mllp_send(port_of(client), [ORU.encode(), unmappable.encode(), unsupported.encode()])
    assert [msa(a)[1:3] for a in acks] == [["AA", "LAB0001"], ["AE", "LAB0002"], ["AR", "LAB0003"]]
    assert err(acks[1])[2] == "OBX^1^5"
    assert err(acks[2])[2:4] == ["MSH^1^9", "200^Unsupported message type^HL70357"]
    assert [r.status for r in rows(factory)] == ["done", "error", "rejected"]


def test_enhanced_mode_ca_ce_cr(factory: sessionmaker[Session], wait_for: Callable[..., None]) -> None:
    accepted = ORU.replace("|P|2.5.1\r", ENHANCED)
    conflicting = accepted.replace("182", "183")  # same MSH-10, other content
    unsupported = accepted.replace("LAB0001", "LAB0002").replace("ORU^R01^ORU_R01", "ORU^R99^ORU_R01")
    with running(factory) as client:
        acks = mllp_send(port_of(client), [accepted.encode(), conflicting.encode(), unsupported.encode()])
        wait_for(lambda: rows(factory)[0].status == "done")
    assert [msa(a)[1:3] for a in acks] == [["CA", "LAB0001"], ["CE", "LAB0001"], ["CR", "LAB0002"]]
    assert err(acks[1])[2:4] == ["MSH^1^10", "205^Duplicate key identifier^HL70357"]
    assert err(acks[2])[2:4] == ["MSH^1^9", "201^Unsupported event code^HL70357"]
    assert [(r.status, r.error_location) for r in rows(factory)] == [
        ("done", None),
        ("conflict", "MSH[1]-10"),
        ("rejected", "MSH[1]-9"),
    ]
    # A resend of the commit-rejected message gets the same CR and stays unmapped.
    with running(factory) as client:
        assert mllp_send(port_of(client), [unsupported.encode()]) == acks[2:]
    assert len(rows(factory)) == 3


def test_enhanced_mode_database_failure_is_ce(factory: sessionmaker[Session]) -> None:
    engine = factory.kw["bind"]

    def fail_inbox_insert(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO HL7V2_INBOX"):
            raise RuntimeError("disk full")

    event.listen(engine, "before_cursor_execute", fail_inbox_insert)
    try:
        with running(factory) as client:
            [ack] = mllp_send(port_of(client), [ORU.replace("|P|2.5.1\r", ENHANCED).encode()])
    finally:
        event.remove(engine, "before_cursor_execute", fail_inbox_insert)
    assert msa(ack)[1] == "CE" and err(ack)[3].startswith("207^")
    assert rows(factory) == []


def test_duplicates_within_and_across_connections(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        first = mllp_send(port_of(client), [ORU.encode(), ORU.encode()])
        again = mllp_send(port_of(client), [ORU.encode()])
    assert first[0] == first[1] == again[0] and msa(first[0])[1] == "AA"
    [row] = rows(factory)
    assert row.attempts == 1
    assert all(read(factory, r)["meta"]["versionId"] == "1" for r in (row.resources or "").split("\n"))


class RawClient:
    """A socket that sends arbitrary bytes and reads MLLP frames back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self._decoder = MllpDecoder()
        self._frames: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def ack(self) -> bytes:
        """The next ACK; ``b""`` if the server closed the connection instead."""
        while not self._frames:
            data = self.sock.recv(65536)
            if not data:
                return b""
            self._frames += [e.payload for e in self._decoder.feed(data) if isinstance(e, Frame)]
        return self._frames.pop(0)

    def close(self) -> None:
        self.sock.close()


def numbered(n: int) -> bytes:
    return ORU.replace("LAB0001", f"LAB{n:04d}").encode()


def test_broken_framing_is_skipped_and_the_stream_goes_on(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        raw = RawClient(port_of(client))
        raw.send(b"garbage before any frame\r\n" + encode_frame(numbered(1)))
        assert msa(raw.ack())[1:3] == ["AA", "LAB0001"]
        # An abandoned frame: a new start block arrives before the end block.
        raw.send(b"\x0b" + numbered(2)[:40] + encode_frame(numbered(3)))
        assert msa(raw.ack())[1:3] == ["AA", "LAB0003"]
        # 0x1C not followed by 0x0D is payload, so the frame only ends at the real end block.
        raw.send(b"\x0b" + numbered(4) + b"\x1c\n" + b"\x1c\r")
        assert msa(raw.ack())[2] == "LAB0004"
        # A sender that disconnects mid-frame: nothing is stored, the resend is applied.
        cut = RawClient(port_of(client))
        cut.send(b"\x0b" + numbered(5)[:100])
        cut.sock.close()
        raw.send(encode_frame(numbered(5)))
        assert msa(raw.ack())[1:3] == ["AA", "LAB0005"]
        raw.sock.close()
    assert [r.control_id for r in rows(factory)] == ["LAB0001", "LAB0003", "LAB0004", "LAB0005"]


def test_oversize_message_gets_ae_and_is_not_stored(factory: sessionmaker[Session]) -> None:
    big = ORU.replace("LAB0001", "BIG0001").replace("Haemolysed sample.", "x" * 5000).encode()
    with running(factory, max_message_size=4096) as client:
        [too_big, fine] = mllp_send(port_of(client), [big, numbered(2)])
        with closing(RawClient(port_of(client))) as raw:
            raw.send(encode_frame(b"y" * 5000))  # oversize with no MSH to answer: connection closed
            assert raw.ack() == b""
    assert msa(too_big)[1:3] == ["AE", "BIG0001"]
    assert err(too_big)[3].startswith("207^") and "larger than the 4096-byte limit" in err(too_big)[8]
    assert msa(fine)[1] == "AA"
    assert [r.control_id for r in rows(factory)] == ["LAB0002"]
