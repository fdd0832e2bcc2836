"""Type-level search per parameter type, modifier and prefix: http://hl7.org/fhir/R4/search.html"""

from __future__ import annotations

from typing import Any

import pytest
from fhir_factories import patient, put
from flask.testing import FlaskClient


def _ids(client: FlaskClient, url: str, **kwargs: Any) -> list[str]:
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    bundle = response.get_json()
    assert bundle["type"] == "searchset"
    return sorted(e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match")


def observation(oid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "x"}, **fields}


@pytest.fixture
def people(client: FlaskClient) -> None:
    put(
        client,
        patient(
            id="ann",
            name=[{"family": "Müller", "given": ["Ann"]}],
            birthDate="1970-03-04",
            gender="female",
            identifier=[
                {
                    "system": "urn:mrn",
                    "value": "111",
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                }
            ],
        ),
    )
    put(
        client,
        patient(
            id="bob",
            name=[{"family": "Mullins", "given": ["Bob"]}],
            birthDate="1980",
            gender="male",
            identifier=[{"system": "urn:other", "value": "111"}],
        ),
    )
    put(client, patient(id="cy", name=[{"family": "Smith", "given": ["Cy"]}], birthDate="1990-12-31"))


def test_string_default_is_case_and_accent_insensitive_prefix(client: FlaskClient, people: None) -> None:
    assert _ids(client, "/fhir/Patient?family=mul") == ["ann", "bob"]
    assert _ids(client, "/fhir/Patient?name=ANN") == ["ann"]
    assert _ids(client, "/fhir/Patient?family=muller") == ["ann"]


def test_string_exact_and_contains(client: FlaskClient, people: None) -> None:
    assert _ids(client, "/fhir/Patient?family:exact=Müller") == ["ann"]
    assert _ids(client, "/fhir/Patient?family:exact=muller") == []
    assert _ids(client, "/fhir/Patient?family:contains=lli") == ["bob"]


def test_or_with_commas_and_and_with_repeats(client: FlaskClient, people: None) -> None:
    assert _ids(client, "/fhir/Patient?given=ann,cy") == ["ann", "cy"]
    assert _ids(client, "/fhir/Patient?family=mul&gender=male") == ["bob"]


def test_token_forms(client: FlaskClient, people: None) -> None:
    assert _ids(client, "/fhir/Patient?identifier=111") == ["ann", "bob"]
    assert _ids(client, "/fhir/Patient?identifier=urn:mrn|111") == ["ann"]
    assert _ids(client, "/fhir/Patient?identifier=urn:other|") == ["bob"]
    assert _ids(client, "/fhir/Patient?gender=female") == ["ann"]
    assert _ids(client, "/fhir/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|111") == [
        "ann"
    ]


def test_token_not_includes_resources_without_the_element(client: FlaskClient, people: None) -> None:
    assert _ids(client, "/fhir/Patient?gender:not=male") == ["ann", "cy"]


def test_token_without_system(client: FlaskClient) -> None:
    put(client, observation("o1", code={"coding": [{"code": "abc"}]}))
    put(client, observation("o2", code={"coding": [{"system": "http://loinc.org", "code": "abc"}]}))
    assert _ids(client, "/fhir/Observation?code=|abc") == ["o1"]
    assert _ids(client, "/fhir/Observation?code=abc") == ["o1", "o2"]
    assert _ids(client, "/fhir/Observation?code=http://loinc.org|abc") == ["o2"]


def test_missing(client: FlaskClient, people: None) -> None:
    assert _ids(client, "/fhir/Patient?gender:missing=true") == ["cy"]
    assert _ids(client, "/fhir/Patient?gender:missing=false") == ["ann", "bob"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("birthdate=1970", ["ann"]),
        ("birthdate=1970-03", ["ann"]),
        ("birthdate=1970-03-04", ["ann"]),
        ("birthdate=1970-03-05", []),
        ("birthdate=1980-06-01", []),  # the stored year 1980 is not inside one day
        ("birthdate=ge1980-06-01", ["bob", "cy"]),
        ("birthdate=le1980-06-01", ["ann", "bob"]),
        ("birthdate=gt1980", ["cy"]),
        ("birthdate=lt1980", ["ann"]),
        ("birthdate=sa1975", ["bob", "cy"]),
        ("birthdate=eb1980-06-01", ["ann"]),
        ("birthdate=ne1970", ["bob", "cy"]),
        ("birthdate=1990-12-31", ["cy"]),
        ("birthdate=ap1970-03-04", ["ann"]),
    ],
)
def test_date_prefixes_and_precision(client: FlaskClient, people: None, query: str, expected: list[str]) -> None:
    assert _ids(client, f"/fhir/Patient?{query}") == expected


def test_date_times_with_zones(client: FlaskClient) -> None:
    put(client, observation("t1", effectiveDateTime="2024-05-01T10:30:00+02:00"))
    put(client, observation("t2", effectivePeriod={"start": "2024-05-01T09:00:00Z"}))
    assert _ids(client, "/fhir/Observation?date=2024-05-01T08:30:00Z") == ["t1"]
    assert _ids(client, "/fhir/Observation?date=2024-05-01T10:30:00%2B02:00") == ["t1"]
    assert _ids(client, "/fhir/Observation?date=2024-05-01") == ["t1"]  # t2 has an open end
    assert _ids(client, "/fhir/Observation?date=ge2030-01-01") == ["t2"]
    assert _ids(client, "/fhir/Observation?date=sa2024-05-01T09:00:00Z") == []


def test_quantity_and_number(client: FlaskClient) -> None:
    ucum = "http://unitsofmeasure.org"
    put(client, observation("w1", valueQuantity={"value": 70.0, "unit": "kg", "system": ucum, "code": "kg"}))
    put(client, observation("w2", valueQuantity={"value": 100, "unit": "kg", "system": ucum, "code": "kg"}))
    put(client, observation("w3", valueQuantity={"value": 100, "unit": "g", "system": ucum, "code": "g"}))
    assert _ids(client, "/fhir/Observation?value-quantity=100") == ["w2", "w3"]
    assert _ids(client, f"/fhir/Observation?value-quantity=100|{ucum}|kg") == ["w2"]
    assert _ids(client, "/fhir/Observation?value-quantity=gt80||kg") == ["w2"]
    assert _ids(client, "/fhir/Observation?value-quantity=lt100") == ["w1"]
    assert _ids(client, "/fhir/Observation?value-quantity=ap72") == ["w1"]
    put(
        client,
        {
            "resourceType": "RiskAssessment",
            "id": "r1",
            "status": "final",
            "subject": {"reference": "Patient/x"},
            "prediction": [{"probabilityDecimal": 0.35}],
        },
    )
    assert _ids(client, "/fhir/RiskAssessment?probability=gt0.3") == ["r1"]
    assert _ids(client, "/fhir/RiskAssessment?probability=0.35") == ["r1"]
    assert _ids(client, "/fhir/RiskAssessment?probability=lt0.3") == []


def test_reference_forms(client: FlaskClient, people: None) -> None:
    put(client, observation("o1", subject={"reference": "Patient/ann"}))
    put(client, observation("o2", subject={"reference": "Patient/bob"}))
    put(client, observation("o3", subject={"reference": "http://fhir.test/fhir/Patient/ann"}))
    assert _ids(client, "/fhir/Observation?subject=Patient/ann") == ["o1", "o3"]
    assert _ids(client, "/fhir/Observation?subject=ann") == ["o1", "o3"]
    assert _ids(client, "/fhir/Observation?subject:Patient=bob") == ["o2"]
    assert _ids(client, "/fhir/Observation?patient=http://fhir.test/fhir/Patient/bob") == ["o2"]


def test_chained_reverse_chained_and_deleted_targets(client: FlaskClient, people: None) -> None:
    put(client, observation("o1", subject={"reference": "Patient/ann"}, code={"coding": [{"code": "weight"}]}))
    put(client, observation("o2", subject={"reference": "Patient/bob"}, code={"coding": [{"code": "height"}]}))
    assert _ids(client, "/fhir/Observation?subject:Patient.name=ann") == ["o1"]
    assert _ids(client, "/fhir/Observation?patient.family=mul") == ["o1", "o2"]
    assert _ids(client, "/fhir/Patient?_has:Observation:patient:code=height") == ["bob"]
    client.delete("/fhir/Patient/ann")
    assert _ids(client, "/fhir/Observation?subject:Patient.name=ann") == []


def test_id_and_last_updated(client: FlaskClient, people: None) -> None:
    assert _ids(client, "/fhir/Patient?_id=ann,cy") == ["ann", "cy"]
    assert _ids(client, "/fhir/Patient?_lastUpdated=gt2000-01-01") == ["ann", "bob", "cy"]
    assert _ids(client, "/fhir/Patient?_lastUpdated=lt2000-01-01") == []


def test_tag_and_profile(client: FlaskClient) -> None:
    put(
        client,
        patient(id="t1", meta={"tag": [{"system": "urn:t", "code": "vip"}], "profile": ["http://example.org/p"]}),
    )
    put(client, patient(id="t2"))
    assert _ids(client, "/fhir/Patient?_tag=urn:t|vip") == ["t1"]
    assert _ids(client, "/fhir/Patient?_profile=http://example.org/p") == ["t1"]


def test_uri_below_and_above(client: FlaskClient) -> None:
    put(client, {"resourceType": "ValueSet", "id": "v1", "status": "active", "url": "http://acme.org/fhir/ValueSet/a"})
    assert _ids(client, "/fhir/ValueSet?url=http://acme.org/fhir/ValueSet/a") == ["v1"]
    assert _ids(client, "/fhir/ValueSet?url:below=http://acme.org/fhir") == ["v1"]
    assert _ids(client, "/fhir/ValueSet?url:above=http://acme.org/fhir/ValueSet/a/extra") == ["v1"]


def test_escaped_comma_is_part_of_the_value(client: FlaskClient) -> None:
    put(client, patient(id="e1", name=[{"family": "a,b"}]))
    assert _ids(client, "/fhir/Patient?family:exact=a\\,b") == ["e1"]


def test_deleted_and_old_versions_do_not_match(client: FlaskClient, people: None) -> None:
    put(client, patient(id="ann", name=[{"family": "Renamed"}]))
    assert _ids(client, "/fhir/Patient?family=mul") == ["bob"]
    client.delete("/fhir/Patient/bob")
    assert _ids(client, "/fhir/Patient?family=mul") == []
