"""The root-element prefilter of extraction skips only expressions that cannot match."""

from __future__ import annotations

import orjson
import pytest

import fhir_server.search.extract as extract
from conformance.search_parameters import default_registry
from fhir_server.search._extract_roots import expression_roots, present_roots

from testdata import synthea_files


@pytest.mark.parametrize(
    ("expression", "resource_type", "roots"),
    [
        ("Observation.code", "Observation", {"code"}),
        ("Observation.value.as(Quantity) | Observation.value.as(SampledData)", "Observation", {"value"}),
        ("(Observation.value as CodeableConcept).text", "Observation", {"value"}),
        ("Patient.name | Practitioner.name", "Patient", {"name"}),
        ("Patient.name | Practitioner.name", "Practitioner", {"name"}),
        ("Resource.meta.tag", "Patient", {"meta"}),
        ("Account.subject.where(resolve() is Patient)", "Account", {"subject"}),
        ("Patient.extension('http://x|y').value", "Patient", {"extension"}),
        ("Group.characteristic.value | Observation.code", "Group", {"characteristic"}),
    ],
)
def test_roots_of_type_prefixed_branches(expression: str, resource_type: str, roots: set[str]) -> None:
    assert expression_roots(expression, resource_type) == frozenset(roots)


@pytest.mark.parametrize("expression", ["%resource.id", "extension('http://x').value", "name", "Patient.name | 'x'"])
def test_anything_else_is_always_evaluated(expression: str) -> None:
    assert expression_roots(expression, "Patient") is None


def test_present_roots_count_choice_stems_and_primitive_extensions() -> None:
    names = present_roots({"resourceType": "Observation", "valueQuantity": {}, "_issued": {}, "code": {}})
    assert {"value", "valueQuantity", "issued", "code"} <= names


def test_prefiltered_extraction_equals_full_evaluation_on_synthea(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = []
    for path in synthea_files()[:6]:
        bundle = orjson.loads(path.read_bytes())
        resources += [entry["resource"] for entry in bundle.get("entry", [])]
    assert len(resources) > 500
    filtered = default_registry()
    expected_registry = default_registry.__wrapped__()  # a fresh registry: its plans are built below
    with_filter = [extract.extract_index_values(r, filtered) for r in resources]
    monkeypatch.setattr(extract, "expression_roots", lambda expression, resource_type: None)
    without = [extract.extract_index_values(r, expected_registry) for r in resources]
    assert with_filter == without


@pytest.mark.parametrize(
    "expression",
    [
        "Patient.deceased.exists() and Patient.deceased != false",
        "Patient.name.empty()",
        "Patient.name.count()",
        "Patient.active = true",
    ],
)
def test_expressions_that_yield_values_from_nothing_are_always_evaluated(expression: str) -> None:
    assert expression_roots(expression, "Patient") is None
