"""Composite search on SQLite and PostgreSQL: http://hl7.org/fhir/R4/search.html#composite"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fhir_factories import FHIR_JSON, outcome_text, put
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from conformance.search_parameters import SearchRegistry
from fhir_server.db import unit_of_work
from fhir_server.repository import SqlRepository
from fhir_server.search.params._context import UnsupportedSearch
from fhir_server.search.query import parse_query

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SYSTOLIC, DIASTOLIC = f"{LOINC}|8480-6", f"{LOINC}|8462-4"


def concept(code: str, system: str = LOINC) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def mm_hg(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}


def blood_pressure(oid: str, systolic: float, diastolic: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": concept("85354-9"),
        "component": [
            {"code": concept("8480-6"), "valueQuantity": mm_hg(systolic)},
            {"code": concept("8462-4"), "valueQuantity": mm_hg(diastolic)},
        ],
    }


def observation(oid: str, code: str, **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": concept(code), **value}


def store(engine: Engine, *resources: dict[str, Any], registry: SearchRegistry | None = None) -> None:
    with unit_of_work(sessionmaker(bind=engine, expire_on_commit=False)) as session:
        repo = SqlRepository(session, registry=registry)
        for resource in resources:
            repo.update(resource["resourceType"], resource["id"], resource)


def ids(
    engine: Engine, resource_type: str, *pairs: tuple[str, str], registry: SearchRegistry | None = None
) -> list[str]:
    """The ids matching the search, strictly: an unsupported criterion raises."""
    with unit_of_work(sessionmaker(bind=engine, expire_on_commit=False), write=False) as session:
        repo = SqlRepository(session, registry=registry)
        result = repo.search(
            [resource_type], parse_query(pairs), base_url="http://fhir.test/fhir", page_size=100, strict=True
        )
    return sorted(match.id for match in result.matches)


@pytest.fixture
def pressures(engine: Engine) -> None:
    store(
        engine,
        blood_pressure("high", 150, 95),
        blood_pressure("normal", 118, 78),
        blood_pressure("low", 55, 40),
        # systolic 110, diastolic 50: "a systolic below 60" is true of no single component
        blood_pressure("split", 110, 50),
        observation("weight", "29463-7", valueQuantity={"value": 72.5, "unit": "kg", "system": UCUM, "code": "kg"}),
        observation("glucose", "2339-0", valueQuantity={"value": 100, "unit": "mg/dL"}),
    )


def test_component_code_and_value_correlate(engine: Engine, pressures: None) -> None:
    assert ids(engine, "Observation", ("component-code-value-quantity", f"{SYSTOLIC}$lt60")) == ["low"]
    assert ids(engine, "Observation", ("component-code-value-quantity", f"{DIASTOLIC}$lt60")) == ["low", "split"]
    # the plain parameters AND'ed do not correlate, which is what the composite is for
    plain = ids(engine, "Observation", ("component-code", SYSTOLIC), ("component-value-quantity", "lt60"))
    assert plain == ["low", "split"]


def test_quantity_prefixes_and_units(engine: Engine, pressures: None) -> None:
    search = "component-code-value-quantity"
    assert ids(engine, "Observation", (search, f"{SYSTOLIC}$gt140")) == ["high"]
    assert ids(engine, "Observation", (search, f"{SYSTOLIC}$ge118")) == ["high", "normal"]
    assert ids(engine, "Observation", (search, f"{SYSTOLIC}$118")) == ["normal"]
    assert ids(engine, "Observation", (search, f"{SYSTOLIC}$gt100|{UCUM}|mm[Hg]")) == ["high", "normal", "split"]
    assert ids(engine, "Observation", (search, f"{SYSTOLIC}$gt100|{UCUM}|kg")) == []
    assert ids(engine, "Observation", (search, "8480-6$gt100||mmHg")) == ["high", "normal", "split"]
    assert ids(engine, "Observation", ("code-value-quantity", f"{LOINC}|29463-7$72.5|{UCUM}|kg")) == ["weight"]
    assert ids(engine, "Observation", ("code-value-quantity", f"{LOINC}|2339-0$gt100")) == []
    assert ids(engine, "Observation", ("code-value-quantity", f"{LOINC}|2339-0$ge100")) == ["glucose"]
    assert ids(engine, "Observation", ("code-value-quantity", f"{LOINC}|2339-0$ap95")) == ["glucose"]
    # combo: the Observation's own code and value, or a component's
    assert ids(engine, "Observation", ("combo-code-value-quantity", f"{DIASTOLIC}$ge95,{LOINC}|29463-7$lt80")) == [
        "high",
        "weight",
    ]


def test_or_and_and_missing(engine: Engine, pressures: None) -> None:
    search = "component-code-value-quantity"
    assert ids(engine, "Observation", (search, f"{SYSTOLIC}$lt60,{SYSTOLIC}$gt140")) == ["high", "low"]
    assert ids(engine, "Observation", (search, f"{SYSTOLIC}$gt100"), (search, f"{DIASTOLIC}$lt60")) == ["split"]
    assert ids(engine, "Observation", (f"{search}:missing", "true")) == ["glucose", "weight"]
    assert ids(engine, "Observation", (f"{search}:missing", "false")) == ["high", "low", "normal", "split"]


def test_token_pairs(engine: Engine) -> None:
    store(
        engine,
        observation("smoker", "72166-2", valueCodeableConcept=concept("449868002", "http://snomed.info/sct")),
        observation("never", "72166-2", valueCodeableConcept=concept("266919005", "http://snomed.info/sct")),
        {
            "resourceType": "Group",
            "id": "women",
            "type": "person",
            "actual": True,
            "characteristic": [
                {"code": concept("sex", "urn:c"), "valueCodeableConcept": concept("female", "urn:g"), "exclude": False},
                {"code": concept("adult", "urn:c"), "valueBoolean": True, "exclude": False},
            ],
        },
        {
            "resourceType": "Group",
            "id": "men",
            "type": "person",
            "actual": True,
            "characteristic": [
                {"code": concept("sex", "urn:c"), "valueCodeableConcept": concept("male", "urn:g"), "exclude": False},
                {"code": concept("adult", "urn:c"), "valueBoolean": False, "exclude": False},
            ],
        },
    )
    assert ids(engine, "Observation", ("code-value-concept", f"{LOINC}|72166-2$http://snomed.info/sct|449868002")) == [
        "smoker"
    ]
    assert ids(engine, "Observation", ("code-value-concept", "72166-2$266919005")) == ["never"]
    assert ids(engine, "Observation", ("code-value-concept", "72166-2$|266919005")) == []  # it has a system
    assert ids(engine, "Observation", ("combo-code-value-concept", "72166-2$449868002")) == ["smoker"]
    assert ids(engine, "Group", ("characteristic-value", "urn:c|sex$urn:g|female")) == ["women"]
    assert ids(engine, "Group", ("characteristic-value", "sex$female")) == ["women"]
    assert ids(engine, "Group", ("characteristic-value", "adult$false")) == ["men"]
    assert ids(engine, "Group", ("characteristic-value", "sex$true")) == []  # values of different characteristics


def test_date_and_string_components(engine: Engine) -> None:
    store(
        engine,
        observation("march", "1", valueDateTime="2020-03-04T10:00:00Z"),
        observation("spring", "1", valuePeriod={"start": "2020-03-01", "end": "2020-05-31"}),
        observation("other-code", "2", valueDateTime="2020-03-04"),
        observation("price", "3", valueString="Costs $5, Ångström"),
        observation("plain", "3", valueString="Costs five"),
    )
    assert ids(engine, "Observation", ("code-value-date", f"{LOINC}|1$2020-03-04")) == ["march"]
    assert ids(engine, "Observation", ("code-value-date", "1$2020")) == ["march", "spring"]
    assert ids(engine, "Observation", ("code-value-date", "1$ge2020-04")) == ["spring"]
    assert ids(engine, "Observation", ("code-value-date", "1$lt2020-03-02")) == ["spring"]
    assert ids(engine, "Observation", ("code-value-date", "2$gt2021")) == []
    assert ids(engine, "Observation", ("code-value-string", "3$costs")) == ["plain", "price"]
    assert ids(engine, "Observation", ("code-value-string", r"3$COSTS \$5\, angstrom")) == ["price"]
    assert ids(engine, "Observation", ("code-value-string", r"3$costs \$")) == ["price"]
    assert ids(engine, "Observation", ("code-value-string", "4$costs")) == []


def test_reference_and_number_components(engine: Engine) -> None:
    attachment = [{"attachment": {"url": "http://example.org/doc"}}]
    store(
        engine,
        {"resourceType": "DocumentReference", "id": "old", "status": "superseded", "content": attachment},
        {
            "resourceType": "DocumentReference",
            "id": "new",
            "status": "current",
            "content": attachment,
            "relatesTo": [{"code": "replaces", "target": {"reference": "DocumentReference/old"}}],
        },
        {
            "resourceType": "DocumentReference",
            "id": "sig",
            "status": "current",
            "content": attachment,
            "relatesTo": [{"code": "signs", "target": {"reference": "DocumentReference/old"}}],
        },
        {
            "resourceType": "MolecularSequence",
            "id": "seq",
            "coordinateSystem": 0,
            "referenceSeq": {
                # msq-5: a chromosome needs its genomeBuild.
                "chromosome": concept("1", "urn:chr"),
                "genomeBuild": "GRCh38",
                "windowStart": 100,
                "windowEnd": 200,
            },
            "variant": [{"start": 120, "end": 121}, {"start": 180, "end": 185}],
        },
    )
    assert ids(engine, "DocumentReference", ("relationship", "DocumentReference/old$replaces")) == ["new"]
    assert ids(engine, "DocumentReference", ("relationship", "old$signs,DocumentReference/new$replaces")) == ["sig"]
    assert ids(engine, "MolecularSequence", ("chromosome-variant-coordinate", "urn:chr|1$ge180$lt190")) == ["seq"]
    assert ids(engine, "MolecularSequence", ("chromosome-variant-coordinate", "1$ge121$lt184")) == []  # no one variant
    assert ids(engine, "MolecularSequence", ("chromosome-window-coordinate", "1$100$200")) == ["seq"]
    assert ids(engine, "MolecularSequence", ("chromosome-window-coordinate", "2$100$200")) == []


def _custom_registry(second: str) -> SearchRegistry:
    registry = SearchRegistry([], {})
    for code, kind, expression in (
        ("id-system", "uri", "Patient.identifier.system"),
        ("id-value", "token", "Patient.identifier.value"),
        ("id-text", "string", "Patient.identifier.value"),
    ):
        registry.add(
            {
                "resourceType": "SearchParameter",
                "url": f"http://x.org/{code}",
                "code": code,
                "base": ["Patient"],
                "type": kind,
                "expression": expression,
            }
        )
    registry.add(
        {
            "resourceType": "SearchParameter",
            "url": "http://x.org/id",
            "code": "id-pair",
            "base": ["Patient"],
            "type": "composite",
            "expression": "Patient.identifier",
            "component": [
                {"definition": "http://x.org/id-system", "expression": "system"},
                {"definition": f"http://x.org/{second}", "expression": "value"},
            ],
        }
    )
    return registry


def test_uri_component_of_a_custom_composite(engine: Engine) -> None:
    registry = _custom_registry("id-value")
    ident = [{"system": "urn:a", "value": "1"}, {"system": "urn:b", "value": "2"}]
    store(engine, {"resourceType": "Patient", "id": "p", "identifier": ident}, registry=registry)
    assert ids(engine, "Patient", ("id-pair", "urn:a$1"), registry=registry) == ["p"]
    assert ids(engine, "Patient", ("id-pair", "urn:a$2"), registry=registry) == []


def test_bad_values_and_unsupported_shapes_name_the_problem(engine: Engine) -> None:
    with pytest.raises(
        UnsupportedSearch, match=r"`8480-6` is not a value of composite parameter `code-value-quantity`: it takes 2"
    ):
        ids(engine, "Observation", ("code-value-quantity", "8480-6"))
    with pytest.raises(
        UnsupportedSearch, match=r"`a\$b\$c` is not a value of composite parameter `code-value-quantity`"
    ):
        ids(engine, "Observation", ("code-value-quantity", "a$b$c"))
    with pytest.raises(UnsupportedSearch, match="`x` is not a number search value"):
        ids(engine, "Observation", ("code-value-quantity", "8480-6$x"))
    with pytest.raises(
        UnsupportedSearch, match="Modifier `:exact` is not supported on composite parameter `code-value-string`"
    ):
        ids(engine, "Observation", ("code-value-string:exact", "1$a"))
    registry = _custom_registry("id-text")
    registry.add(
        {
            "resourceType": "SearchParameter",
            "url": "http://x.org/two",
            "code": "two-strings",
            "base": ["Patient"],
            "type": "composite",
            "expression": "Patient.identifier",
            "component": [
                {"definition": "http://x.org/id-text", "expression": "system"},
                {"definition": "http://x.org/id-text", "expression": "value"},
            ],
        }
    )
    for criterion in (("two-strings", "a$b"), ("two-strings:missing", "true")):
        with pytest.raises(UnsupportedSearch, match="`two-strings` of `Patient` has 2 or more `string` components"):
            ids(engine, "Patient", criterion, registry=registry)


def test_through_the_http_api(client: FlaskClient) -> None:
    put(client, blood_pressure("high", 150, 95))
    # a transaction writes its index rows by the batch path (one statement for all entries on PostgreSQL)
    entries = [
        {"resource": blood_pressure(oid, 110, 50), "request": {"method": "PUT", "url": f"Observation/{oid}"}}
        for oid in ("split", "split2")
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    assert client.post("/fhir", data=orjson.dumps(bundle), headers={"Content-Type": FHIR_JSON}).status_code == 200
    search = {"component-code-value-quantity": f"{SYSTOLIC}$lt60,{SYSTOLIC}$gt140,{DIASTOLIC}$50"}
    response = client.get("/fhir/Observation", query_string=search)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert sorted(e["resource"]["id"] for e in response.get_json()["entry"]) == ["high", "split", "split2"]
    lenient = client.get("/fhir/Observation?code-value-quantity=8480-6").get_json()
    (warning,) = [e["resource"] for e in lenient.get("entry", []) if e["search"]["mode"] == "outcome"]
    assert "`8480-6` is not a value of composite parameter `code-value-quantity`" in warning["issue"][0]["diagnostics"]
    strict = client.get("/fhir/Observation?code-value-quantity=8480-6", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert "`8480-6` is not a value of composite parameter `code-value-quantity`" in outcome_text(strict)
    metadata = client.get("/fhir/metadata").get_json()
    observation_entry = next(e for e in metadata["rest"][0]["resource"] if e["type"] == "Observation")
    listed = {p["name"]: p for p in observation_entry["searchParam"]}
    assert listed["component-code-value-quantity"] == {
        "name": "component-code-value-quantity",
        "definition": "http://hl7.org/fhir/SearchParameter/Observation-component-code-value-quantity",
        "type": "composite",
    }


def test_in_chains_and_reverse_chains(engine: Engine) -> None:
    low, high = blood_pressure("low", 55, 40), blood_pressure("high", 150, 95)
    low["subject"], high["subject"] = {"reference": "Patient/faint"}, {"reference": "Patient/tense"}
    panel = observation("panel", "vitals", hasMember=[{"reference": "Observation/high"}])
    store(
        engine, {"resourceType": "Patient", "id": "faint"}, {"resourceType": "Patient", "id": "tense"}, low, high, panel
    )
    assert ids(engine, "Patient", ("_has:Observation:subject:component-code-value-quantity", f"{SYSTOLIC}$lt60")) == [
        "faint"
    ]
    assert ids(engine, "Observation", ("has-member.component-code-value-quantity", "8480-6$gt140")) == ["panel"]
    assert ids(engine, "Observation", ("has-member.component-code-value-quantity", "8480-6$lt60")) == []
