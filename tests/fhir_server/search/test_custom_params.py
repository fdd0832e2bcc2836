"""Custom SearchParameters: which ones count, which can be indexed, and the registry built from them."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.search_parameters import UnusableSearchParameter, default_registry
from fhir_server.search.custom_params import build_custom_parameters, conflict, is_custom, usable_definition
from fhir_server.search.extract import extract_index_values

URL = "http://example.org/SearchParameter/patient-marital"


def search_parameter(**overrides: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "SearchParameter",
        "url": URL,
        "name": "Marital",
        "status": "active",
        "description": "Marital status",
        "code": "marital",
        "base": ["Patient"],
        "type": "token",
        "expression": "Patient.maritalStatus",
    }
    resource.update(overrides)
    return resource


@pytest.mark.parametrize(
    ("overrides", "custom"),
    [
        ({}, True),
        ({"status": "draft"}, True),
        ({"status": "retired"}, False),
        ({"status": "unknown"}, False),
        ({"url": "http://hl7.org/fhir/SearchParameter/individual-gender"}, False),  # the spec's own
        ({"resourceType": "Patient"}, False),
    ],
)
def test_is_custom(overrides: dict[str, Any], custom: bool) -> None:
    assert is_custom(search_parameter(**overrides)) is custom


def test_usable_definition_is_the_compact_shape() -> None:
    spec = usable_definition(search_parameter(), default_registry())
    assert spec == {
        "url": URL,
        "code": "marital",
        "type": "token",
        "base": ["Patient"],
        "expression": "Patient.maritalStatus",
    }


@pytest.mark.parametrize(
    ("overrides", "message", "element"),
    [
        ({"code": "_marital"}, "has code `_marital`: codes beginning with `_` are reserved", "SearchParameter.code"),
        ({"code": "marital.status"}, "a `.` would be read as a chain", "SearchParameter.code"),
        (
            {"type": "special"},
            f"The SearchParameter `{URL}` has type `special`, which this server cannot index.",
            "SearchParameter.type",
        ),
        (
            {"expression": "Observation.code"},
            f"The `expression` of SearchParameter `{URL}` has no branch for its base `Patient`.",
            "SearchParameter.expression",
        ),
        (
            {"expression": "Patient.name.where("},
            f"The SearchParameter `{URL}` cannot be indexed on `Patient`: The FHIRPath `Patient.name.where(` could not be parsed",
            "SearchParameter.expression",
        ),
        (
            {"type": "composite", "component": [{"definition": "http://example.org/nowhere", "expression": "coding"}]},
            f"The component `http://example.org/nowhere` of SearchParameter `{URL}` is not a search parameter of `Patient`.",
            "SearchParameter.component.definition",
        ),
        (
            {"base": ["Patient", "Pateint"]},
            "has `base` `Pateint`, which is not an R4 resource type.",
            "SearchParameter.base",
        ),
    ],
)
def test_unusable_parameters_are_named(overrides: dict[str, Any], message: str, element: str) -> None:
    with pytest.raises(UnusableSearchParameter) as caught:
        usable_definition(search_parameter(**overrides), default_registry())
    assert message in str(caught.value)
    assert caught.value.element == element


def test_conflict_names_the_owner_but_not_the_parameter_itself() -> None:
    spec = usable_definition(search_parameter(url="http://example.org/other"), default_registry())
    owners = {("Patient", "marital"): ("sp-1", URL), ("url", URL): ("sp-1", URL)}
    assert conflict(spec, "sp-2", owners) == (
        "The SearchParameter `http://example.org/other` cannot be active: `SearchParameter/sp-1` "
        f"(`{URL}`) already defines the code `marital` on `Patient`."
    )
    assert conflict(spec, "sp-1", owners) is None


def test_build_adds_active_ones_and_reports_what_it_leaves_out() -> None:
    stored = [
        ("a", search_parameter()),
        ("b", search_parameter(url="http://example.org/copy")),  # same code on Patient: the older one stays
        ("c", search_parameter(url="http://example.org/draft", code="draft", status="draft")),
        ("d", search_parameter(url="http://example.org/broken", code="broken", expression="Observation.code")),
    ]
    custom = build_custom_parameters(stored, default_registry())
    patient = custom.registry.for_type("Patient")
    assert patient["marital"].url == URL
    assert "draft" not in patient and "broken" not in patient
    assert custom.owners[("Patient", "marital")] == ("a", URL)
    assert [problem.split(":")[0] for problem in custom.problems] == [
        "`SearchParameter/b` is left out of search",
        "`SearchParameter/d` is left out of search",
    ]
    assert default_registry().get("Patient", "marital") is None  # the official registry is left alone


def test_build_with_nothing_active_is_the_official_registry() -> None:
    assert (
        build_custom_parameters([("r", search_parameter(status="retired"))], default_registry()).registry
        is default_registry()
    )


def test_a_replaced_official_parameter_is_indexed_the_custom_way() -> None:
    official = default_registry()
    custom = build_custom_parameters(
        [("f", search_parameter(code="family", type="string", expression="Patient.name.given"))], official
    ).registry
    patient = {"resourceType": "Patient", "id": "p", "name": [{"family": "Fam", "given": ["Giv"]}]}
    family = {v.exact for v in extract_index_values(patient, custom) if v.param == "family"}  # type: ignore[attr-defined]
    assert family == {"Giv"}
    assert {v.exact for v in extract_index_values(patient, official) if v.param == "family"} == {"Fam"}  # type: ignore[attr-defined]


def test_a_composite_may_combine_custom_components() -> None:
    composite = search_parameter(
        url="http://example.org/marital-gender",
        code="marital-gender",
        type="composite",
        expression="Patient",
        component=[
            {"definition": URL, "expression": "maritalStatus"},
            {"definition": "http://hl7.org/fhir/SearchParameter/individual-gender", "expression": "gender"},
        ],
    )
    custom = build_custom_parameters([("c", composite), ("m", search_parameter())], default_registry())
    assert custom.problems == ()
    assert custom.registry.get("Patient", "marital-gender") is not None
