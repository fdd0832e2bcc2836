"""OBX numbers keep the digits the sender wrote: OBX-5 ``0.40`` is stored as ``0.40``, not ``0.4``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from adapters.hl7v2.mapping import MappingError, to_fhir
from fhir_server.db import unit_of_work
from fhir_server.repository import RequestContext, SqlRepository

from .e2e import msa, rows, running
from .test_listener import ORU

PRECISE = ORU.replace("||182|mg/dL^mg/dL^UCUM|70-105|", "||0.40|mmol/L^mmol/L^UCUM|0.30-1.50|").replace(
    "OBX|2|ST|2951-2^Sodium^LN||see note||||||F\r", "OBX|2|NM|2951-2^Sodium^LN||+0140.0|mmol/L^mmol/L^UCUM|||||F\r"
)


def stored_content(factory: sessionmaker[Session], reference: str) -> bytes:
    resource_type, resource_id = reference.split("/")
    with unit_of_work(factory, write=False) as session:
        content = SqlRepository(session, RequestContext(actor="test")).read(resource_type, resource_id).content
    assert content is not None
    return content


def test_oru_values_and_reference_range_are_stored_as_sent(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        assert msa(client.call(PRECISE.encode()))[1:3] == ["AA", "LAB0001"]
    [row] = rows(factory)
    observations = [r for r in (row.resources or "").split("\n") if r.startswith("Observation/")]
    glucose, sodium = (stored_content(factory, reference) for reference in observations)
    assert b'"valueQuantity":{"value":0.40,"unit":"mmol/L"' in glucose
    assert b'"low":{"value":0.30,' in glucose and b'"high":{"value":1.50,' in glucose
    assert b'"valueQuantity":{"value":140.0,' in sodium  # the sign and leading zero cannot be JSON; the digits stay


def test_a_non_number_is_still_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="OBX-5 value `0,40` is not a number"):
        to_fhir(PRECISE.replace("||0.40|", "||0,40|"))
