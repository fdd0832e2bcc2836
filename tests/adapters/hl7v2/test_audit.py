"""Every HL7 v2 message stored or refused becomes a searchable AuditEvent (DICOM 110107 Import)."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from audit_trail import ACTIVITY, audit_events, identifiers, references, requestor
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2.cli import hl7

from .e2e import msa, rows, running
from .test_listener import ADT, ORU, adt_patient_id

V2_EVENT = "http://terminology.hl7.org/CodeSystem/v2-0003"


def test_applied_message_is_audited_with_sender_patient_and_resources(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        assert msa(client.call(ADT.encode()))[1] == "AA"
    [event] = audit_events(factory, f"patient=Patient/{adt_patient_id()}")
    assert (event["type"]["code"], event["action"], event["outcome"]) == ("110107", "C", "0")
    sender = requestor(event)
    assert (sender["name"], sender["altId"], sender["network"]["address"]) == ("ADTAPP", "GENHOSP", "127.0.0.1")
    assert "ADT0001" in identifiers(event)
    [row] = rows(factory)
    assert references(event) == set((row.resources or "").split("\n"))
    # Found by what an auditor searches for.
    assert audit_events(factory, "type=110107") == [event]
    assert audit_events(factory, f"subtype={V2_EVENT}|A01") == [event]
    assert audit_events(factory, "agent-name=ADTAPP&address=127.0.0.1&outcome=0&date=ge2020-01-01") == [event]
    encounter = next(r for r in references(event) if r.startswith("Encounter/"))
    assert audit_events(factory, f"entity={encounter}") == [event]


def test_unmappable_message_is_audited_as_rejected_input(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        assert msa(client.call(ORU.replace("||182|", "||high|").encode()))[1] == "AE"
        assert msa(client.call(ORU.replace("ORU^R01^ORU_R01|LAB0001", "QRY^A19^QRY_A19|LAB0002").encode()))[1] == "AR"
    events = audit_events(factory, "outcome=4")
    assert [sorted(identifiers(e)) for e in events] == [["LAB0001"], ["LAB0002"]]
    assert "OBX-5 value `high` is not a number" in events[0]["outcomeDesc"]
    assert all(requestor(e)["name"] == "LAB" for e in events)
    assert audit_events(factory, "outcome=0") == []


def test_message_whose_resource_is_refused_is_audited_as_rejected(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        # Maps, but the repository refuses the Patient: the message is recorded alone, without resources.
        assert msa(client.call(ADT.replace("19640812", "19641345").encode()))[1] == "AE"
    [event] = audit_events(factory, "agent-name=ADTAPP")
    assert event["outcome"] == "4" and "Patient.birthDate" in event["outcomeDesc"]
    assert references(event) == set()


def test_reused_control_id_is_audited_as_rejected(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        client.call(ORU.encode())
        client.call(ORU.encode())  # an identical resend writes nothing and is not audited again
        assert msa(client.call(ORU.replace("182", "183").encode()))[1] == "AE"
    assert [e["outcome"] for e in audit_events(factory, "agent-name=LAB")] == ["0", "4"]


def test_enhanced_mode_is_audited_when_the_worker_applies_it(
    factory: sessionmaker[Session], wait_for: Callable[..., Any]
) -> None:
    enhanced = ADT.replace("|P|2.5.1\r", "|P|2.5.1|||AL|NE\r")
    unsupported = enhanced.replace("ADT^A01^ADT_A01|ADT0001", "QRY^A19^QRY_A19|ADT0002")
    unmappable = ORU.replace("||182|", "||high|").replace("|P|2.5.1\r", "|P|2.5.1|||AL|NE\r")
    with running(factory) as client:
        assert msa(client.call(enhanced.encode()))[1] == "CA"
        assert msa(client.call(unsupported.encode()))[1] == "CR"  # refused at receipt, never mapped
        assert msa(client.call(unmappable.encode()))[1] == "CA"  # the worker finds it cannot be mapped
        wait_for(lambda: [row.status for row in rows(factory)] == ["done", "rejected", "error"])
    [failed] = audit_events(factory, "agent-name=LAB")
    assert failed["outcome"] == "4" and identifiers(failed) == {"LAB0001"}
    [applied] = audit_events(factory, "agent-name=ADTAPP&outcome=0")
    [refused] = audit_events(factory, "agent-name=ADTAPP&outcome=4")  # recorded first, at receipt
    assert f"Patient/{adt_patient_id()}" in references(applied)
    # The worker read the sender's address back from the inbox row.
    assert requestor(applied)["network"]["address"] == "127.0.0.1"
    assert identifiers(refused) == {"ADT0002"}


def test_messages_imported_from_a_file_are_audited_as_the_os_user(
    factory: sessionmaker[Session], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    path = tmp_path / "feed.hl7"
    path.write_bytes((ADT + "\r" + ORU.replace("||182|", "||high|")).encode())
    CliRunner().invoke(hl7, ["import", str(path)])
    applied, refused = audit_events(factory, f"subtype={ACTIVITY}|hl7v2-message")
    assert (applied["outcome"], refused["outcome"]) == ("0", "4")
    for audited in (applied, refused):
        user = requestor(audited)
        assert (user["name"], user["network"]) == (getpass.getuser(), {"address": socket.gethostname(), "type": "1"})
        assert str(path) in {e.get("name") for e in audited["entity"]}
    # The sending application is named too, as the source that did not ask for the access.
    sender = next(a for a in applied["agent"] if a.get("name") == "ADTAPP")
    assert sender["requestor"] is False and "network" not in sender
    assert f"Patient/{adt_patient_id()}" in references(applied)
