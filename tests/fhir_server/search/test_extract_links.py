"""Extraction of references, URIs, common parameters and custom parameters; the Synthea smoke test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conformance.search_parameters import SearchRegistry, default_registry
from fhir_server.search._extract_ranges import normalize_text
from fhir_server.search.extract import extract_index_values
from fhir_server.search.index_values import (
    IndexValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
)
from fhir_server.search.params.string import normalize


def values(resource: dict[str, Any], param: str, registry: SearchRegistry | None = None) -> list[IndexValue]:
    return [value for value in extract_index_values(resource, registry) if value.param == param]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def test_references_of_every_shape() -> None:
    def subject(reference: dict[str, Any]) -> list[IndexValue]:
        return [
            v
            for v in extract_index_values({"resourceType": "Observation", "subject": reference})
            if v.param.startswith("subject")
        ]

    assert subject({"reference": "Patient/123"}) == [ReferenceValue("subject", "Patient", "123")]
    assert subject({"reference": "Patient/123/_history/4"}) == [ReferenceValue("subject", "Patient", "123")]
    assert subject({"reference": "https://ehr.example/fhir/Patient/9/_history/1"}) == [
        ReferenceValue("subject", "Patient", "9", "https://ehr.example/fhir/Patient/9")
    ]
    assert subject({"reference": "https://ehr.example/docs/page"}) == [
        ReferenceValue("subject", None, None, "https://ehr.example/docs/page")
    ]
    assert subject({"reference": "urn:uuid:6a1c"}) == [ReferenceValue("subject", None, None, "urn:uuid:6a1c")]
    assert subject({"reference": "urn:oid:1.2.3"}) == [ReferenceValue("subject", None, None, "urn:oid:1.2.3")]
    assert subject({"reference": "#contained"}) == []
    assert subject({"reference": "Patient?identifier=x|1"}) == []
    assert subject({"identifier": {"system": "urn:ssn", "value": "1"}}) == [
        TokenValue("subject.identifier", "urn:ssn", "1")
    ]
    response = {"resourceType": "QuestionnaireResponse", "questionnaire": "http://q.org/Questionnaire/phq9|2.0"}
    assert values(response, "questionnaire") == [
        ReferenceValue("questionnaire", None, None, "http://q.org/Questionnaire/phq9", "2.0")
    ]


def test_reference_where_resolve_filters_by_type() -> None:
    observation = {"resourceType": "Observation", "subject": {"reference": "Group/g1"}}
    assert values(observation, "patient") == []
    assert values(observation, "subject") == [ReferenceValue("subject", "Group", "g1")]


def test_uri_and_common_parameters() -> None:
    value_set = {
        "resourceType": "ValueSet",
        "id": "vs",
        "url": "http://example.org/vs",
        "meta": {
            "lastUpdated": "2020-01-01T00:00:00Z",
            "profile": ["http://example.org/StructureDefinition/p"],
            "tag": [{"system": "urn:t", "code": "a"}],
            "security": [{"system": "urn:s", "code": "R"}],
            "source": "http://src.example/1",
        },
    }
    extracted = extract_index_values(value_set)
    assert UriValue("url", "http://example.org/vs") in extracted
    assert UriValue("_profile", "http://example.org/StructureDefinition/p") in extracted
    assert UriValue("_source", "http://src.example/1") in extracted
    assert TokenValue("_tag", "urn:t", "a") in extracted
    assert TokenValue("_security", "urn:s", "R") in extracted
    assert not [value for value in extracted if value.param in ("_id", "_lastUpdated")]


def test_duplicates_composites_and_special_params() -> None:
    observation = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1"}, {"system": "http://loinc.org", "code": "1"}]},
        "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "1"}]}}],
    }
    assert values(observation, "code") == [TokenValue("code", "http://loinc.org", "1")]
    assert values(observation, "combo-code") == [TokenValue("combo-code", "http://loinc.org", "1")]
    assert values(observation, "code-value-quantity") == []
    location = {"resourceType": "Location", "position": {"latitude": 1, "longitude": 2}}
    assert values(location, "near") == []
    assert extract_index_values({"no": "type"}) == []


def test_custom_extension_parameter() -> None:
    registry = SearchRegistry([], {})
    registry.add(
        {
            "resourceType": "SearchParameter",
            "url": "http://x.org/sp",
            "code": "eye",
            "base": ["Patient"],
            "type": "token",
            "expression": "Patient.extension('http://x.org/eye')",
        }
    )
    patient = {
        "resourceType": "Patient",
        "extension": [
            {"url": "http://x.org/eye", "valueCodeableConcept": {"coding": [{"system": "urn:c", "code": "blue"}]}},
            {"url": "http://x.org/other", "valueCode": "x"},
        ],
    }
    assert extract_index_values(patient, registry) == [TokenValue("eye", "urn:c", "blue")]


def test_fallback_values_are_typed_by_shape() -> None:
    registry = SearchRegistry([], {})
    registry.add(
        {
            "resourceType": "SearchParameter",
            "url": "http://x.org/sp2",
            "code": "first-given",
            "base": ["Patient"],
            "type": "string",
            "expression": "Patient.name.given.select($this.upper())",
        }
    )
    patient = {"resourceType": "Patient", "name": [{"given": ["Éva"]}]}
    assert extract_index_values(patient, registry) == [StringValue("first-given", "eva", "ÉVA")]


@pytest.mark.parametrize("text", ["Zoë  Ångström", "ÉVA", "straße", "ﬁne", " plain  Text "])
def test_folding_matches_the_planner(text: str) -> None:
    # The planner folds search values with its own function; both sides must agree.
    assert normalize_text(text) == normalize(text)


@pytest.mark.parametrize("registry", [None, default_registry()])
def test_every_synthea_resource_extracts(
    synthea_resources: list[dict[str, Any]], registry: SearchRegistry | None
) -> None:
    total = 0
    for resource in synthea_resources:
        extracted = extract_index_values(resource, registry)
        assert len(extracted) == len(set(extracted))
        total += len(extracted)
    assert total > len(synthea_resources) * 5
