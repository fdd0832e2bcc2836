"""``fhir-server hl7 import``: files of messages through the listener's path, bad ones reported (both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2.cli import hl7
from adapters.hl7v2.file_import import split_messages

from .e2e import read, rows
from .test_listener import ADT, ORU, adt_patient_id
from testdata import count_rows

UNMAPPABLE = ORU.replace("||182|", "||high|")  # AE: OBX-5 of an NM result is not a number
SECOND_ORU = ORU.replace("|LAB0001|", "|LAB0002|")
UNSUPPORTED = ADT.replace("ADT^A01^ADT_A01|ADT0001", "ZZZ^Z01|ZZZ0001")  # AR: MSH-9 not supported


def _lines(message: str, end: str) -> str:
    return "".join(segment + end for segment in message.split("\r") if segment)


@pytest.fixture
def files(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    feed = tmp_path / "feed.hl7"
    # line 1: a stray segment; ADT on lines 2-5; blank line 6; unmappable ORU on lines 7-12; the next MSH (line 13)
    # starts a new message without a blank line.
    feed.write_bytes(
        ("PID|stray\n" + _lines(ADT, "\n") + "\n" + _lines(UNMAPPABLE, "\n") + _lines(SECOND_ORU, "\n")).encode()
    )
    capture = tmp_path / "capture.mllp"
    frames = [_lines(SECOND_ORU, "\r\n"), "MSX|nonsense\r", UNSUPPORTED]
    capture.write_bytes(b"".join(b"\x0b" + frame.encode() + b"\x1c\r" for frame in frames))
    single = tmp_path / "adt-cr.hl7"
    single.write_bytes(ADT.replace("ADT0001", "ADT0002").encode())  # CR line ends, as over MLLP
    return [feed, capture, single]


def _import(*args: str | Path) -> Result:
    return CliRunner().invoke(hl7, ["import", *map(str, args)])


def test_split_handles_cr_lf_crlf_blank_lines_and_mllp_frames() -> None:
    messages, strays = split_messages(("PID|x\r\n" + _lines(ADT, "\r\n") + "\r\n\r\n" + _lines(ORU, "\n")).encode())
    assert [(m.number, m.line) for m in messages] == [(1, 2), (2, 8)]
    assert messages[0].content == ADT.encode()
    assert strays == [("line 1", "segment outside a message", "`PID|x` is not in a message (no MSH).")]
    framed, _ = split_messages(b"\x0b" + _lines(ORU, "\n").encode() + b"\x1c\r\n")
    assert [(m.where, m.content) for m in framed] == [("message 1", ORU.encode())]


def test_import_stores_good_messages_and_reports_rejected_ones(
    files: list[Path], factory: sessionmaker[Session], database_url: str
) -> None:
    feed, capture, _ = files
    result = _import(*files)
    assert result.exit_code == 0, result.output
    # The ORU in the capture has CRLF line ends: rejoined with CR it is the very message of feed.hl7 line 13,
    # so it is found as already received (imported, not stored twice).
    assert (
        f"imported 4 messages from 3 files; skipped 4 messages: segment outside a message (1; first: {feed} line 1), "
        f"no usable MSH (1; first: {capture} message 2), cannot be mapped (AE) (1; first: {feed} message 2 (line 7)), "
        f"rejected (AR) (1; first: {capture} message 3)"
    ) in result.stderr
    # The text the AE's ERR segment carries.
    assert f"skipped {feed} message 2 (line 7): OBX-5 value `high`" in result.stderr
    assert "(at OBX[1]-5)" in result.stderr
    assert "Message type `ZZZ` in MSH-9 is not supported" in result.stderr
    # The stored resources read back; the ORU of line 13 and the ADT with CR line ends are there.
    assert read(factory, f"Patient/{adt_patient_id()}")["name"][0]["family"] == "Muster"
    statuses = sorted((row.control_id, row.status) for row in rows(factory))
    assert statuses == [
        ("ADT0001", "done"), ("ADT0002", "done"), ("LAB0001", "error"), ("LAB0002", "done"), ("ZZZ0001", "rejected"),
    ]  # fmt: skip
    assert count_rows(database_url, "SELECT count(*) FROM resource WHERE resource_type = 'Observation'") >= 2


def test_import_strict_exits_1_and_a_second_run_stores_nothing_twice(
    files: list[Path], factory: sessionmaker[Session], database_url: str
) -> None:
    strict = _import("--strict", *files)
    assert strict.exit_code == 1
    assert "skipped 4 messages" in strict.stderr
    inbox_rows = len(rows(factory))
    resources = "SELECT count(*) FROM resource"
    versions = "SELECT count(*) FROM resource_history"
    counts = count_rows(database_url, resources), count_rows(database_url, versions)
    again = _import(*files)
    assert again.exit_code == 0, again.output
    assert "imported 4 messages from 3 files; skipped 4 messages" in again.stderr
    assert len(rows(factory)) == inbox_rows
    assert (count_rows(database_url, resources), count_rows(database_url, versions)) == counts


def test_import_of_only_unusable_messages_exits_1(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    path = tmp_path / "bad.hl7"
    path.write_bytes(UNMAPPABLE.encode())
    result = _import(path)
    assert result.exit_code == 1
    assert (
        f"imported 0 messages from 1 file; skipped 1 message: cannot be mapped (AE) (1; first: {path} message 1 (line 1))"
        in result.stderr
    )


def test_enhanced_mode_messages_are_mapped_before_the_command_ends(
    tmp_path: Path, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    path = tmp_path / "enhanced.hl7"
    enhanced = ADT.replace("|P|2.5.1\r", "|P|2.5.1|||AL|NE\r")
    path.write_bytes(
        (_lines(enhanced, "\n") + "\n" + _lines(UNMAPPABLE.replace("|P|2.5.1\r", "|P|2.5.1|||AL|AL\r"), "\n")).encode()
    )
    result = _import(path)
    assert result.exit_code == 0, result.output
    assert (
        f"imported 1 message from 1 file; skipped 1 message: cannot be mapped (AE) (1; first: {path} message 2 (line 6))"
        in result.stderr
    )
    assert sorted((row.control_id, row.status) for row in rows(factory)) == [("ADT0001", "done"), ("LAB0001", "error")]
    assert read(factory, f"Patient/{adt_patient_id()}")["gender"] == "female"
