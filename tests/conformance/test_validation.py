"""validate_resource: R4-exact structure, values and references, with exact FHIRPaths and messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from conformance import ValidationIssue, validate_resource

OBS_CODE = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}


def error(code: str, diagnostics: str, expression: str | None) -> ValidationIssue:
    return ValidationIssue("error", code, diagnostics, expression)


def observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": OBS_CODE, **extra}


# -- valid input -------------------------------------------------------------------------


def only_binding_warnings(issues: list[ValidationIssue]) -> list[ValidationIssue]:
    """The issues that are not warnings of an extensible or preferred binding (which leave a resource valid)."""
    return [i for i in issues if not (i.severity == "warning" and i.code == "code-invalid")]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_synthea_entries_are_valid(synthea_files: list[Path], which: int) -> None:
    # Synthea's Patients carry an SSN identifier type (v2-0203 `SS`), outside R4's extensible
    # identifier-type value set, and its Coverages text-only types: warnings, not errors.
    bundle = orjson.loads(synthea_files[which].read_bytes())
    types = set()
    for index, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        types.add(resource["resourceType"])
        assert only_binding_warnings(validate_resource(resource)) == [], f"entry {index} of {synthea_files[which].name}"
    assert {"Patient", "Observation", "Encounter"} <= types


def test_synthea_transaction_bundle_is_valid_as_a_whole(synthea_bundle: dict[str, Any]) -> None:
    assert only_binding_warnings(validate_resource(synthea_bundle)) == []
    assert only_binding_warnings(validate_resource(synthea_bundle, use_r4b_models=False)) == []


def test_primitive_extensions_and_nulls_in_primitive_arrays() -> None:
    patient = {
        "resourceType": "Patient",
        "birthDate": "1970-03-30",
        "_birthDate": {"extension": [{"url": "http://example.org/time", "valueDateTime": "1970-03-30T10:00:00Z"}]},
        "name": [
            {
                "given": ["Ann", None],
                "_given": [None, {"id": "g2", "extension": [{"url": "http://x", "valueCode": "a"}]}],
            }
        ],
    }
    assert validate_resource(patient) == []


def test_r4_only_choice_type_value_meta_is_accepted() -> None:
    # R4 allows Extension.valueMeta; R4B dropped it, so pydantic alone would reject it.
    patient = {
        "resourceType": "Patient",
        "extension": [{"url": "http://example.org/m", "valueMeta": {"versionId": "1"}}],
    }
    assert validate_resource(patient) == []


# -- unknown and R4B-only elements and types ---------------------------------------------------


def test_unknown_element() -> None:
    assert validate_resource({"resourceType": "Patient", "foo": 1}) == [
        error("structure", "Unknown element `foo` in `Patient`.", "Patient.foo")
    ]


def test_unknown_nested_element_has_instance_path() -> None:
    patient = {"resourceType": "Patient", "name": [{"family": "Doe"}, {"family": "Roe", "nickname": "R"}]}
    assert validate_resource(patient) == [
        error("structure", "Unknown element `nickname` in `Patient.name[1]`.", "Patient.name[1].nickname")
    ]


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        # R4B added `canonical` to ActivityDefinition.subject[x] ...
        (
            {"resourceType": "ActivityDefinition", "status": "draft", "subjectCanonical": "http://x/Group/1"},
            "ActivityDefinition.subjectCanonical",
        ),
        # ... and CodeableReference/RatioRange to Extension.value[x].
        (
            {"resourceType": "Patient", "extension": [{"url": "http://x", "valueRatioRange": {}}]},
            "Patient.extension[0].valueRatioRange",
        ),
    ],
)
def test_r4b_only_elements_are_rejected(resource: dict[str, Any], expression: str) -> None:
    parent, _, name = expression.rpartition(".")
    assert validate_resource(resource) == [error("structure", f"Unknown element `{name}` in `{parent}`.", expression)]


@pytest.mark.parametrize("rtype", ["SubscriptionTopic", "Citation", "Resource", "patient"])
def test_non_r4_resource_types_are_rejected(rtype: str) -> None:
    assert validate_resource({"resourceType": rtype, "id": "x"}) == [
        error("not-supported", f"Resource type `{rtype}` is not a FHIR R4 (4.0.1) resource type.", None)
    ]


def test_missing_resource_type_and_non_object() -> None:
    assert validate_resource({"id": "x"}) == [
        error("required", "The resource in the request has no `resourceType`.", None)
    ]
    assert validate_resource([1]) == [error("structure", "The resource in the request must be a JSON object.", None)]  # type: ignore[arg-type]


# -- values and shapes ---------------------------------------------------------------------------


def test_wrong_primitive_json_types() -> None:
    patient = {"resourceType": "Patient", "active": "yes", "gender": 3, "multipleBirthInteger": 2.5}
    assert validate_resource(patient) == [
        error(
            "structure", "Value `yes` of `Patient.active` must be a JSON boolean (a FHIR `boolean`).", "Patient.active"
        ),
        error("structure", "Value `3` of `Patient.gender` must be a JSON string (a FHIR `code`).", "Patient.gender"),
        error(
            "structure",
            "Value `2.5` of `Patient.multipleBirthInteger` must be a JSON integer (a FHIR `integer`).",
            "Patient.multipleBirthInteger",
        ),
    ]


@pytest.mark.parametrize(
    ("value", "diagnostics"),
    [
        ("2020-13-01", "Value `2020-13-01` of `Patient.birthDate` is not a valid `date`."),
        ("2020-1-01", "Value `2020-1-01` of `Patient.birthDate` is not a valid `date`."),
        ("2021-02-29", "Value `2021-02-29` of `Patient.birthDate` is not a valid `date`: no such day."),
    ],
)
def test_invalid_dates(value: str, diagnostics: str) -> None:
    assert validate_resource({"resourceType": "Patient", "birthDate": value}) == [
        error("value", diagnostics, "Patient.birthDate")
    ]


def test_invalid_values_deep_inside() -> None:
    obs = {
        "resourceType": "Observation",
        "id": "a b",
        **observation(),
        "effectivePeriod": {"start": "2020-01-01T10:00"},
    }
    obs["valueQuantity"] = {"value": "7"}
    # Issues come in document order.
    assert validate_resource(obs) == [
        error("value", "Value `a b` of `Observation.id` is not a valid `id`.", "Observation.id"),
        error(
            "value",
            "Value `2020-01-01T10:00` of `Observation.effectivePeriod.start` is not a valid `dateTime`.",
            "Observation.effectivePeriod.start",
        ),
        error(
            "structure",
            "Value `7` of `Observation.valueQuantity.value` must be a JSON number (a FHIR `decimal`).",
            "Observation.valueQuantity.value",
        ),
    ]


def test_missing_required_elements() -> None:
    assert validate_resource({"resourceType": "Observation", "subject": {"reference": "Patient/1"}}) == [
        error("required", "Missing required element `status` in `Observation`.", "Observation.status"),
        error("required", "Missing required element `code` in `Observation`.", "Observation.code"),
    ]


def test_missing_required_element_in_backbone() -> None:
    patient = {"resourceType": "Patient", "link": [{"type": "seealso"}]}
    assert validate_resource(patient) == [
        error("required", "Missing required element `other` in `Patient.link[0]`.", "Patient.link[0].other")
    ]


def test_array_and_single_value_shapes() -> None:
    patient = {
        "resourceType": "Patient",
        "name": {"family": "Doe"},
        "gender": ["male"],
        "identifier": [],
        "photo": [{}],
    }
    assert validate_resource(patient) == [
        error("structure", "Element `Patient.name` must be an array.", "Patient.name"),
        error("structure", "Element `Patient.gender` must be a single value, not an array.", "Patient.gender"),
        error("structure", "Element `Patient.identifier` must not be an empty array.", "Patient.identifier"),
        error(
            "structure",
            "Element `Patient.photo[0]` is empty; FHIR elements need a value or children.",
            "Patient.photo[0]",
        ),
    ]


def test_nulls_and_objects_where_primitives_belong() -> None:
    patient = {"resourceType": "Patient", "active": None, "maritalStatus": "M"}
    assert validate_resource(patient) == [
        error("structure", "Element `Patient.active` must not be null.", "Patient.active"),
        error(
            "structure",
            "Element `Patient.maritalStatus` must be a JSON object (a FHIR `CodeableConcept`), not a string.",
            "Patient.maritalStatus",
        ),
    ]


def test_only_one_value_per_choice_element() -> None:
    assert validate_resource(observation(valueString="a", valueBoolean=True)) == [
        error(
            "structure",
            "Choice element `Observation.value[x]` may have one value "
            "but `Observation` has `valueString`, `valueBoolean`.",
            "Observation.valueBoolean",
        )
    ]


def test_prohibited_element_of_simple_quantity() -> None:
    # Dosage.doseAndRate.dose[x] is a SimpleQuantity, which forbids `comparator`.
    request = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "x"},
        "subject": {"reference": "Patient/1"},
        "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 1, "comparator": "<"}}]}],
    }
    expr = "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.comparator"
    assert validate_resource(request) == [error("structure", f"Element `{expr}` is not allowed here.", expr)]


def test_bad_primitive_extension_sibling() -> None:
    patient = {"resourceType": "Patient", "birthDate": "2000-01-01", "_birthDate": {"colour": "red"}}
    assert validate_resource(patient) == [
        error("structure", "Unknown element `colour` in `Patient.birthDate`.", "Patient.birthDate.colour")
    ]


def test_the_r4b_crosscheck_follows_the_process_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import conformance.validation as validation

    calls: list[str] = []
    monkeypatch.setattr(validation, "pydantic_issues", lambda rtype, data, ignore: calls.append(rtype) or [])
    patient = {"resourceType": "Patient", "birthDate": "1970-01-01"}
    try:
        validation.set_r4b_crosscheck(False)
        assert validation.validate_resource(patient) == [] and calls == []
        # The R4 check still runs without the second opinion.
        assert validation.validate_resource({**patient, "birthDate": "1970-13-01"}) != []
        validation.set_r4b_crosscheck(True)
        assert validation.validate_resource(patient) == [] and calls == ["Patient"]
    finally:
        validation.set_r4b_crosscheck(True)
