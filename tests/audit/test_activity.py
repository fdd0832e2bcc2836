"""The non-REST AuditEvent builders give valid R4 at their edges (empty fields, no patient, IPv6 peers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from audit_trail import assert_valid, audit_events, identifiers, requestor
from sqlalchemy.orm import Session, sessionmaker
from stand_in_model import StandInModel

from adapters.dicom.audit import Origin, export_event, instance_event
from adapters.hl7v2.audit import audit_message
from adapters.hl7v2.header import parse_header
from fhir_server.audit.activity import (
    APPLICATION_ACTIVITY,
    FAILED,
    INVALID,
    QUERY,
    Requestor,
    activity_event,
    cli_user,
    imported_event,
    module_agent,
    patients_of,
    peer_host,
)
from fhir_server.db import make_engine, make_session_factory, unit_of_work
from ml.audit import AUTO_RISK, AUTO_SCORE, scoring_event


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_every_builder_gives_valid_r4_without_patients_or_identifiers() -> None:
    events = [
        activity_event(QUERY, "test", requestor=Requestor("x")),
        activity_event(APPLICATION_ACTIVITY, "test", requestor=cli_user(), agents=[module_agent("m")], outcome=FAILED),
        imported_event("cli-load", cli_user(), [], source="empty.ndjson", outcome=INVALID, description="Refused."),
        instance_event(Origin.named("import"), None, outcome=INVALID, description="Not DICOM."),
        export_event(Requestor("unauthenticated"), "1.2.3", None, outcome="4", description="HTTP 404", what="study"),
        scoring_event([], StandInModel(), requestor=AUTO_RISK, activity=AUTO_SCORE, patients=["p"]),  # type: ignore[arg-type]
    ]
    for event in events:
        assert_valid(event)


def test_hl7_message_without_sender_or_control_id_is_still_valid(sessions: sessionmaker[Session]) -> None:
    header = parse_header(b"MSH|^~\\&|||||20240301||ADT  X^A01|||2.5.1\r")
    with unit_of_work(sessions) as session:
        audit_message(session, header, peer="[::1]:40000", status="rejected", resources=[], error="No PID.")
    [event] = audit_events(sessions, "outcome=4")  # validated by audit_events
    assert requestor(event)["name"] == "unnamed sending application"
    assert requestor(event)["network"]["address"] == "::1"
    assert identifiers(event) == set()
    assert [coding["code"] for coding in event["subtype"]] == ["hl7v2-message", "A01"]  # `ADT  X` is no code


def test_peers_and_patients() -> None:
    assert [peer_host(p) for p in ("10.0.0.1:2575", "[fe80::1]:104", "host", None)] == [
        "10.0.0.1",
        "fe80::1",
        "host",
        None,
    ]
    observation = {"resourceType": "Observation", "subject": {"reference": "Patient/a"}}
    consent = {"resourceType": "Consent", "patient": {"reference": "Patient/b"}}
    group_subject = {"resourceType": "Observation", "subject": {"reference": "Group/g"}}
    resources = [{"resourceType": "Patient", "id": "a"}, observation, consent, group_subject]
    assert patients_of(resources) == ["a", "b"]
