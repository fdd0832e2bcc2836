"""The FHIRPath subset compiler: semantics, types, and agreement with fhirpathpy."""

from __future__ import annotations

import functools
import json
import re
from decimal import Decimal
from typing import Any

import fhirpathpy
import pytest

from conformance._definitions import definitions
from conformance.search_parameters import default_registry
from fhir_server.search.fhirpath import FhirPath, FhirPathSyntaxError, compile_fhirpath, fhirpathpy_options

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Heart rate"},
    "subject": {"reference": "Patient/p1"},
    "performer": [{"reference": "Practitioner/d1"}, {"reference": "https://x.org/fhir/Organization/o9"}],
    "valueQuantity": {"value": 72, "unit": "/min"},
    "component": [
        {"code": {"text": "a"}, "valueQuantity": {"value": 1}},
        {"code": {"text": "b"}, "valueString": "two"},
    ],
    "extension": [{"url": "http://e.org/a", "valueString": "ext"}, {"url": "http://e.org/b", "valueInteger": 3}],
}


def run(expression: str, resource: dict[str, Any] = OBSERVATION) -> list[tuple[Any, str | None]]:
    return FhirPath(expression)(resource)


def test_choice_types_carry_their_type() -> None:
    assert run("Observation.value") == [({"value": 72, "unit": "/min"}, "Quantity")]
    assert run("Observation.component.value") == [({"value": 1}, "Quantity"), ("two", "string")]
    assert run("Observation.status") == [("final", "code")]
    assert run("Observation.component")[0][1] == "BackboneElement"


def test_type_filters() -> None:
    assert run("(Observation.value as Quantity)") == run("Observation.value.as(Quantity)")
    assert run("Observation.value.ofType(Quantity)") == [({"value": 72, "unit": "/min"}, "Quantity")]
    assert run("Observation.value as string") == []
    # Unlike a strict engine, `as` filters a collection of several items.
    assert run("Observation.component.value as string") == [("two", "string")]
    assert run("(Observation.component.value as CodeableConcept).text") == []


def test_where_and_resolve() -> None:
    assert run("Observation.subject.where(resolve() is Patient)") == [({"reference": "Patient/p1"}, "Reference")]
    assert run("Observation.performer.where(resolve() is Organization)") == [
        ({"reference": "https://x.org/fhir/Organization/o9"}, "Reference")
    ]
    assert run("Observation.component.where(code.text = 'b').value") == [("two", "string")]
    assert run("Observation.component.where(code.text != 'b' and value.exists()).code.text") == [("a", "string")]


def test_extensions_union_index_and_functions() -> None:
    assert run("Observation.extension('http://e.org/b').value") == [(3, "integer")]
    assert run("Observation.extension.where(url = 'http://e.org/a')") == [(OBSERVATION["extension"][0], "Extension")]
    assert run("Observation.performer[1].reference") == [("https://x.org/fhir/Organization/o9", "string")]
    assert run("Observation.performer.first().reference") == [("Practitioner/d1", "string")]
    assert run("Observation.code | Observation.code") == [(OBSERVATION["code"], "CodeableConcept")]
    assert run("Observation.issued.exists()") == [(False, "boolean")]
    assert run("Observation.performer.count()") == [(2, "integer")]
    assert run("Patient.name") == []  # a leading type name filters on the resource's own type


def test_deceased_expression() -> None:
    expression = "Patient.deceased.exists() and Patient.deceased != false"
    assert run(expression, {"resourceType": "Patient"}) == [(False, "boolean")]
    assert run(expression, {"resourceType": "Patient", "deceasedBoolean": False}) == [(False, "boolean")]
    assert run(expression, {"resourceType": "Patient", "deceasedDateTime": "2020"}) == [(True, "boolean")]


def test_contained_resources_and_relative_evaluation() -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "birthDate": "2000"}}]}
    assert run("Bundle.entry[0].resource.birthDate", bundle) == [("2000", "date")]
    composite = compile_fhirpath("Observation.component")
    focus = composite.nodes(OBSERVATION)
    assert [compile_fhirpath("value.as(Quantity)").evaluate([node], OBSERVATION) for node in focus] == [
        [({"value": 1}, "Quantity")],
        [],
    ]
    assert compile_fhirpath("%resource.id").evaluate(focus, OBSERVATION) == [("o1", "id")]


def test_unsupported_expressions_fall_back_to_fhirpathpy() -> None:
    path = FhirPath("Observation.code.coding.code.substring(0, 2)")
    assert path.fallback
    assert path(OBSERVATION) == [("88", None)]
    with pytest.raises(FhirPathSyntaxError):
        FhirPath("Observation.code +")


def test_every_r4_expression_compiles_without_fallback() -> None:
    registry = default_registry()
    fallbacks = []
    for resource_type in sorted(definitions().resource_types):
        for param in registry.for_type(resource_type).values():
            expressions = [param.expression] if param.expression else []
            expressions += [expression for _, expression in param.components]
            fallbacks += [e for e in expressions if compile_fhirpath(e).fallback]
    assert fallbacks == []


def canonical(value: Any) -> str:
    """Render a value so that 72, 72.0 and Decimal('72.0') compare equal, as fhirpathpy makes Decimals."""

    def fix(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: fix(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [fix(inner) for inner in item]
        if isinstance(item, int | float | Decimal) and not isinstance(item, bool):
            return str(Decimal(str(item)).normalize())
        return item if isinstance(item, str | bool) or item is None else str(item)

    return json.dumps(fix(value), sort_keys=True)


@functools.cache
def fhirpathpy_compiled(expression: str) -> Any:
    return fhirpathpy.compile(expression, **fhirpathpy_options())


def reference(expression: str, resource: dict[str, Any]) -> set[str]:
    try:
        values = fhirpathpy_compiled(expression)(resource, {})
    except ValueError:
        # fhirpathpy's `as` refuses collections; `ofType` is the per-item filter we implement.
        per_item = re.sub(r"\(([^()]+) as (\w+)\)", r"\1.ofType(\2)", expression)
        values = fhirpathpy_compiled(per_item)(resource, {})
    return {canonical(value) for value in values}


def test_compiled_paths_agree_with_fhirpathpy(synthea_resources: list[dict[str, Any]]) -> None:
    registry = default_registry()
    compared = nonempty = 0
    for resource in synthea_resources:
        for param in registry.for_type(resource["resourceType"]).values():
            if not param.expression or param.type in ("composite", "special"):
                continue
            ours = {canonical(value) for value, _ in compile_fhirpath(param.expression)(resource)}
            assert ours == reference(param.expression, resource), (param.expression, resource["id"])
            compared += 1
            nonempty += bool(ours)
    # Four sample Bundles give about 13,700 comparisons, 5,100 of them with values.
    assert compared > 12_000
    assert nonempty > 4_500
