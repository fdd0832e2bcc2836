"""The search parameter registry, its generated data file and expression splitting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance import build_search_parameters
from conformance._search_expressions import restrict_expression, split_union
from conformance.build_definitions import DATA_DIR
from conformance.search_parameters import SearchParam, SearchRegistry, UnusableSearchParameter, default_registry

DATA_FILE = DATA_DIR / build_search_parameters.OUTPUT_NAME


@pytest.fixture(scope="module")
def registry() -> SearchRegistry:
    return default_registry()


def custom(**overrides: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/SearchParameter/patient-eye-colour",
        "code": "eye-colour",
        "base": ["Patient"],
        "type": "token",
        "expression": "Patient.extension('http://example.org/eye-colour')",
    }
    resource.update(overrides)
    return resource


def test_data_file_is_compact_and_complete() -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert DATA_FILE.stat().st_size < 600_000
    assert len(data["searchParameters"]) == 1375
    assert sorted(data["compartments"]) == ["Device", "Encounter", "Patient", "Practitioner", "RelatedPerson"]


def test_build_reproduces_the_data_file(fhir_r4_dir: Path, tmp_path: Path) -> None:
    written = build_search_parameters.write(build_search_parameters.build(fhir_r4_dir), tmp_path)
    assert written.read_bytes() == DATA_FILE.read_bytes()


def test_build_names_a_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"search-parameters\.json"):
        build_search_parameters.build(tmp_path)


def test_patient_parameters(registry: SearchRegistry) -> None:
    params = registry.for_type("Patient")
    for code in ("name", "family", "birthdate", "identifier", "general-practitioner", "_tag", "_profile", "_text"):
        assert code in params
    assert params["birthdate"] == SearchParam(
        code="birthdate",
        url="http://hl7.org/fhir/SearchParameter/individual-birthdate",
        type="date",
        expression="Patient.birthDate",
        base=("Patient", "Person", "RelatedPerson"),
        target=(),
        modifiers=("missing",),
        comparators=("eq", "ne", "gt", "ge", "lt", "le", "sa", "eb", "ap"),
        components=(),
        multiple_or=True,
        multiple_and=True,
    )
    assert params["general-practitioner"].target == ("Practitioner", "Organization", "PractitionerRole")
    assert params["_tag"].expression == "Patient.meta.tag"
    assert params["_text"].expression is None
    assert len(params) == 32


def test_observation_parameters(registry: SearchRegistry) -> None:
    params = registry.for_type("Observation")
    assert params["code"].expression == "Observation.code"
    assert params["subject"].type == "reference"
    assert params["patient"].expression == "Observation.subject.where(resolve() is Patient)"
    assert params["date"].expression == "Observation.effective"
    assert params["value-quantity"].expression == "(Observation.value as Quantity) | (Observation.value as SampledData)"
    composite = params["code-value-quantity"]
    assert composite.type == "composite"
    assert composite.expression == "Observation"
    assert composite.components == (
        ("http://hl7.org/fhir/SearchParameter/clinical-code", "code"),
        ("http://hl7.org/fhir/SearchParameter/Observation-value-quantity", "value.as(Quantity)"),
    )
    assert registry.by_url(composite.components[1][0], "Observation") == params["value-quantity"]


def test_common_parameters_per_base(registry: SearchRegistry) -> None:
    assert "_text" not in registry.for_type("Bundle")  # Bundle is a Resource, not a DomainResource
    assert registry.get("Bundle", "_tag") is not None
    assert registry.get("Encounter", "_source") is not None
    assert registry.get("NoSuchType", "_id") is None
    assert registry.get("Patient", "no-such-code") is None


def test_compartment_params(registry: SearchRegistry) -> None:
    assert registry.compartment_params("Patient", "Observation") == ("subject", "performer")
    assert registry.compartment_params("Encounter", "Observation") == ("encounter",)
    assert registry.compartment_params("Patient", "Organization") == ()
    assert registry.compartment_params("Device", "Observation") == ("subject", "device")
    assert registry.compartment_params("Nowhere", "Observation") == ()


def test_split_union_ignores_nested_bars() -> None:
    assert split_union("A.b | A.c.where(x = 'a|b') | (A.d | A.e)") == ["A.b", "A.c.where(x = 'a|b')", "(A.d | A.e)"]


def test_restrict_expression_keeps_own_branches() -> None:
    shared = (
        "AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | (Observation.value as Quantity)"
    )
    assert restrict_expression(shared, "CarePlan") == "CarePlan.subject.where(resolve() is Patient)"
    assert restrict_expression(shared, "Observation") == "(Observation.value as Quantity)"
    assert restrict_expression(shared, "Patient") is None
    assert restrict_expression("Resource.meta.tag", "Patient") == "Patient.meta.tag"
    assert restrict_expression("%resource.a | Patient.b", "Patient") == "%resource.a | Patient.b"


def test_every_base_gets_a_branch(registry: SearchRegistry) -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    for spec in data["searchParameters"]:
        if "expression" not in spec:
            continue
        for base in spec["base"]:
            if base in ("Resource", "DomainResource"):
                continue
            assert restrict_expression(spec["expression"], base), (spec["url"], base)


def test_add_custom_parameter() -> None:
    registry = SearchRegistry([], {})
    param = registry.add(custom())
    assert param.code == "eye-colour"
    assert registry.get("Patient", "eye-colour") == param
    replaced = registry.add(custom(type="string"))
    assert registry.get("Patient", "eye-colour") == replaced
    assert replaced.type == "string"


def test_add_custom_common_parameter_reaches_every_type() -> None:
    registry = SearchRegistry([], {})
    registry.for_type("Observation")  # cached before the add: the add must invalidate it
    registry.add(custom(base=["Resource"], code="_x", expression="Resource.meta.versionId"))
    assert registry.get("Observation", "_x") is not None
    assert registry.get("Observation", "_x").expression == "Observation.meta.versionId"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"resourceType": "Patient"}, "Expected a `SearchParameter` resource, got `Patient`."),
        ({"url": None}, "The SearchParameter has no `url`."),
        ({"code": "bad code"}, "has an invalid `code` `bad code`."),
        ({"type": "fuzzy"}, "has an unknown `type` `fuzzy`."),
        ({"base": []}, "names no `base` resource type."),
        ({"base": ["Patient", "Pateint"]}, "has `base` `Pateint`, which is not an R4 resource type."),
        ({"expression": " "}, "has no `expression`, so nothing can be indexed."),
        (
            {"type": "composite"},
            "The composite SearchParameter `http://example.org/SearchParameter/patient-eye-colour`",
        ),
    ],
)
def test_add_rejects_unusable_parameters(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        SearchRegistry([], {}).add(custom(**overrides))


def test_extended_leaves_the_original_and_shares_untouched_views() -> None:
    official = default_registry()
    observation = official.for_type("Observation")
    official.for_type("Patient")
    extended = official.extended([official.definition_of(custom())])
    assert extended.get("Patient", "eye-colour") is not None
    assert official.get("Patient", "eye-colour") is None
    assert extended.for_type("Observation") is observation
    assert extended.has_url(custom()["url"]) and not official.has_url(custom()["url"])


def test_derived_data_is_built_once_and_cleared_by_add() -> None:
    registry = SearchRegistry([], {})
    builds: list[int] = []
    assert registry.derived("key", lambda: builds.append(1) or len(builds)) == 1
    assert registry.derived("key", lambda: builds.append(1) or len(builds)) == 1
    registry.add(custom())
    assert registry.derived("key", lambda: builds.append(1) or len(builds)) == 2


def test_definition_of_names_the_element() -> None:
    with pytest.raises(UnusableSearchParameter) as caught:
        default_registry().definition_of(custom(code="bad code"))
    assert caught.value.element == "SearchParameter.code"
