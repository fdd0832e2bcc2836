"""Reading the audit trail back as an auditor would: drain the outbox, then search AuditEvents."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from sqlalchemy.orm import Session, sessionmaker

from conformance.validation import validate_resource
from fhir_server.audit.drain import drain_all
from fhir_server.db import unit_of_work
from fhir_server.repository import RequestContext, SqlRepository
from fhir_server.search.query import parse_query

ACTIVITY = "urn:fhir-server:audit-activity"


def audit_events(sessions: sessionmaker[Session], query: str = "") -> list[dict[str, Any]]:
    """Store what the outbox holds, then ``GET AuditEvent?{query}`` (strict: an unknown parameter fails).

    Every event found is also checked to be valid R4, since the drain stores them without validating.
    """
    drain_all(sessions)
    pairs = [*parse_qsl(query, keep_blank_values=True), ("_sort", "date")]
    with unit_of_work(sessions, write=False) as session:
        result = SqlRepository(session, RequestContext(actor="auditor")).search(
            ["AuditEvent"], parse_query(pairs), base_url="http://fhir.test/fhir", page_size=1000, strict=True
        )
    events = [orjson.loads(match.content) for match in result.matches if match.content is not None]
    for event in events:
        assert_valid(event)
    return events


def assert_valid(event: dict[str, Any]) -> None:
    """``validate_resource(event)`` finds nothing but the subtype's extensible-binding notes.

    ``subtype`` is bound *extensibly* to a value set of REST interactions and DICOM
    security-event codes; none names an HL7 message or a DICOM import, so the
    non-REST events use their own codes there, as R4 allows, and a terminology-aware
    validator says so in a warning. Anything else, and any error, fails.
    """
    issues = validate_resource(event)
    notes = [i for i in issues if i.severity == "warning" and (i.expression or "").startswith("AuditEvent.subtype")]
    assert [i for i in issues if i not in notes] == [], event


def requestor(event: dict[str, Any]) -> dict[str, Any]:
    """The agent that caused the access."""
    return next(agent for agent in event["agent"] if agent["requestor"])


def references(event: dict[str, Any]) -> set[str]:
    """Every ``entity.what.reference`` of an event."""
    return {e["what"]["reference"] for e in event.get("entity", []) if "reference" in e.get("what", {})}


def identifiers(event: dict[str, Any]) -> set[str]:
    """Every ``entity.what.identifier.value`` of an event."""
    return {e["what"]["identifier"]["value"] for e in event.get("entity", []) if "identifier" in e.get("what", {})}
