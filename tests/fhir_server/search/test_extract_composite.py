"""Write-time extraction of composite parameters: http://hl7.org/fhir/R4/search.html#composite"""

from __future__ import annotations

import re
from dataclasses import fields
from decimal import Decimal
from typing import Any

import pytest

from conformance.resource_types import R4_RESOURCE_TYPES
from conformance.search_parameters import SearchRegistry, default_registry
from fhir_server.search._composite_shape import UnsupportedComposite, component_shapes
from fhir_server.search.extract import extract_index_values
from fhir_server.search.index_values import CompositeValue
from fhir_server.search.ranges import MAX_INSTANT, MIN_INSTANT, date_range
from models.search import COMPOSITE_SLOTS, SpidxComposite

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def composites(resource: dict[str, Any], param: str, registry: SearchRegistry | None = None) -> list[CompositeValue]:
    return [v for v in extract_index_values(resource, registry) if isinstance(v, CompositeValue) and v.param == param]


def concept(code: str, system: str = LOINC, text: str | None = None) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}], **({"text": text} if text else {})}


BLOOD_PRESSURE = {
    "resourceType": "Observation",
    "status": "final",
    "code": concept("85354-9"),
    "component": [
        {"code": concept("8480-6", text="Systolic"), "valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"}},
        {"code": concept("8462-4"), "valueQuantity": {"value": 80.5, "unit": "mmHg"}},
    ],
}


def test_value_class_table_and_slots_agree() -> None:
    slot_columns = {column for slots in COMPOSITE_SLOTS.values() for slot in slots for column in slot.values()}
    table_columns = {c.name for c in SpidxComposite.__table__.columns} - {"pk", "resource_pk", "resource_type", "param"}
    value_fields = {f.name for f in fields(CompositeValue)} - {"param"}
    assert slot_columns == table_columns == value_fields


def test_every_r4_composite_has_a_supported_shape() -> None:
    registry = default_registry()
    shapes = {
        tuple(shape.type for shape in component_shapes(param, registry, resource_type))
        for resource_type in R4_RESOURCE_TYPES
        for param in registry.for_type(resource_type).values()
        if param.type == "composite"
    }
    assert shapes == {
        ("token", "token"),
        ("token", "quantity"),
        ("token", "date"),
        ("token", "string"),
        ("token", "number", "number"),
        ("reference", "token"),
    }


def test_component_values_are_combined_per_element_only() -> None:
    rows = composites(BLOOD_PRESSURE, "component-code-value-quantity")
    assert rows == [
        CompositeValue(
            "component-code-value-quantity",
            token1_system=LOINC,
            token1_code="8480-6",
            quantity_value=Decimal(120),
            quantity_system=UCUM,
            quantity_code="mm[Hg]",
        ),
        CompositeValue(
            "component-code-value-quantity",
            token1_system=LOINC,
            token1_code="8462-4",
            quantity_value=Decimal("80.5"),
            quantity_unit="mmHg",
        ),
    ]  # no 8480-6 with 80.5: the code and value of different components never pair up
    assert composites(BLOOD_PRESSURE, "code-value-quantity") == []  # the panel itself has no value
    assert [(v.token1_code, v.quantity_value) for v in composites(BLOOD_PRESSURE, "combo-code-value-quantity")] == [
        ("8480-6", Decimal(120)),
        ("8462-4", Decimal("80.5")),
    ]


def test_every_coding_pairs_with_every_value_of_the_element() -> None:
    observation = {
        "resourceType": "Observation",
        "code": {
            "coding": [{"system": LOINC, "code": "a"}, {"code": "b"}, {"system": LOINC, "code": "a"}],
            "text": "T",
        },
        "valueCodeableConcept": {"coding": [{"system": "urn:s", "code": "x"}], "text": "only text"},
    }
    rows = composites(observation, "code-value-concept")
    assert [(v.token1_system, v.token1_code, v.token2_system, v.token2_code) for v in rows] == [
        (LOINC, "a", "urn:s", "x"),
        (None, "b", "urn:s", "x"),
    ]  # text-only tokens are left out and duplicates are stored once


def test_date_string_and_open_period_components() -> None:
    dated = {"resourceType": "Observation", "code": concept("1"), "valuePeriod": {"start": "2020-03"}}
    (row,) = composites(dated, "code-value-date")
    low, _ = date_range("2020-03")  # type: ignore[misc]
    assert (row.date_low, row.date_high) == (low, MAX_INSTANT)
    ended = {"resourceType": "Observation", "code": concept("1"), "valuePeriod": {"end": "2020"}}
    assert composites(ended, "code-value-date")[0].date_low == MIN_INSTANT
    text = {"resourceType": "Observation", "code": concept("1"), "valueString": "Ångström  Units"}
    assert composites(text, "code-value-string")[0].string == "angstrom units"


def test_group_characteristic_and_use_context() -> None:
    group = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "characteristic": [
            {"code": concept("sex", "urn:c"), "valueCodeableConcept": concept("female", "urn:g"), "exclude": False},
            {"code": concept("smoker", "urn:c"), "valueBoolean": True, "exclude": False},
        ],
    }
    assert [(v.token1_code, v.token2_system, v.token2_code) for v in composites(group, "characteristic-value")] == [
        ("sex", "urn:g", "female"),
        ("smoker", None, "true"),
    ]
    value_set = {
        "resourceType": "ValueSet",
        "status": "active",
        "useContext": [
            {"code": {"system": "urn:u", "code": "age"}, "valueRange": {"low": {"value": 18}, "high": {"value": 65}}}
        ],
    }
    (row,) = composites(value_set, "context-type-quantity")
    assert (row.token1_code, row.quantity_value) == ("age", Decimal(18))


def test_reference_and_number_components() -> None:
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": {"url": "http://x"}}],
        "relatesTo": [{"code": "replaces", "target": {"reference": "DocumentReference/old"}}],
    }
    (row,) = composites(document, "relationship")  # R4 pairs the definitions with the wrong expressions
    assert (row.reference_type, row.reference_id, row.token1_code) == ("DocumentReference", "old", "replaces")
    sequence = {
        "resourceType": "MolecularSequence",
        "coordinateSystem": 0,
        "referenceSeq": {"chromosome": concept("1", "urn:chr"), "windowStart": 10, "windowEnd": 20},
        "variant": [{"start": 12, "end": 13}, {"start": 15}],
    }
    assert [(v.token1_code, v.number1, v.number2) for v in composites(sequence, "chromosome-variant-coordinate")] == [
        ("1", Decimal(12), Decimal(13))
    ]  # %resource reaches the chromosome from each variant; the second variant has no end
    (window,) = composites(sequence, "chromosome-window-coordinate")
    assert (window.number1, window.number2) == (Decimal(10), Decimal(20))


def _custom(components: list[tuple[str, str]]) -> SearchRegistry:
    registry = SearchRegistry([], {})
    for code, kind in (("eye", "token"), ("eye-note", "string"), ("eye-note2", "string")):
        registry.add(
            {
                "resourceType": "SearchParameter",
                "url": f"http://x.org/{code}",
                "code": code,
                "base": ["Patient"],
                "type": kind,
                "expression": "Patient.extension",
            }
        )
    registry.add(
        {
            "resourceType": "SearchParameter",
            "url": "http://x.org/combo",
            "code": "combo",
            "base": ["Patient"],
            "type": "composite",
            "expression": "Patient.extension",
            "component": [{"definition": f"http://x.org/{c}", "expression": e} for c, e in components],
        }
    )
    return registry


def test_unsupported_shapes_are_not_indexed_and_name_the_problem() -> None:
    patient = {"resourceType": "Patient", "extension": [{"url": "u", "valueString": "blue"}]}
    too_many = _custom([("eye-note", "value"), ("eye-note2", "value")])
    assert composites(patient, "combo", too_many) == []
    with pytest.raises(UnsupportedComposite, match="`combo` of `Patient` has 2 or more `string` components"):
        component_shapes(too_many.get("Patient", "combo"), too_many, "Patient")  # type: ignore[arg-type]
    unknown = _custom([("nowhere", "value")])
    with pytest.raises(
        UnsupportedComposite, match=re.escape("Component `http://x.org/nowhere` of composite search parameter `combo`")
    ):
        component_shapes(unknown.get("Patient", "combo"), unknown, "Patient")  # type: ignore[arg-type]
    fine = _custom([("eye", "url"), ("eye-note", "value")])
    assert [(v.token1_code, v.string) for v in composites(patient, "combo", fine)] == [("u", "blue")]
