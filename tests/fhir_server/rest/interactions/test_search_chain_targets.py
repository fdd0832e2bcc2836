"""Chained searches give the same matches whether the planner lists the targets' ids or joins them.

Chains with few targets are planned on their resolved ids
(``Planner._resolved_targets``); past ``MAX_RESOLVED_TARGETS`` they join the
target rows. Both must honour multi-level chains, ``:Type`` modifiers and
deleted targets.
"""

from __future__ import annotations

from typing import Any

import pytest
from fhir_factories import patient, put
from flask.testing import FlaskClient

from fhir_server.search import planner


def _ids(client: FlaskClient, url: str) -> list[str]:
    bundle = client.get(url).get_json()
    return sorted(e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match")


def _observation(oid: str, subject: str, code: str = "c") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"code": code}]},
        "subject": {"reference": subject},
    }


@pytest.fixture(params=["resolved", "joined"])
def chain_form(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "joined":
        monkeypatch.setattr(planner, "MAX_RESOLVED_TARGETS", 0)
    return str(request.param)


def test_chains_match_live_targets_of_the_named_type(client: FlaskClient, chain_form: str) -> None:
    put(client, {"resourceType": "Organization", "id": "acme", "name": "Acme"})
    put(client, patient(id="ann", name=[{"family": "Smith"}], managingOrganization={"reference": "Organization/acme"}))
    put(client, patient(id="bob", name=[{"family": "Smithson"}]))
    put(client, patient(id="cy", name=[{"family": "Smith"}]))
    put(client, {"resourceType": "Location", "id": "clinic", "name": "Smith Clinic"})
    put(client, _observation("o-ann", "Patient/ann"))
    put(client, _observation("o-bob", "Patient/bob", code="other"))
    put(client, _observation("o-cy", "Patient/cy"))
    put(client, _observation("o-clinic", "Location/clinic"))
    client.delete("/fhir/Patient/cy")

    assert _ids(client, "/fhir/Observation?subject:Patient.name=smith") == ["o-ann", "o-bob"]
    assert _ids(client, "/fhir/Observation?subject:Patient.name=smith&code=c") == ["o-ann"]
    assert _ids(client, "/fhir/Observation?subject.name=smith") == ["o-ann", "o-bob", "o-clinic"]
    assert _ids(client, "/fhir/Observation?subject:Location.name=smith") == ["o-clinic"]
    assert _ids(client, "/fhir/Observation?subject:Patient.organization.name=acme") == ["o-ann"]
    assert _ids(client, "/fhir/Observation?subject:Patient.organization.name=nobody") == []
    assert _ids(client, "/fhir/Observation?subject:Patient.name=nobody") == []
    assert _ids(client, "/fhir/Patient?_has:Observation:subject:code=c") == ["ann"]
