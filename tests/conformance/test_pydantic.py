"""conformance._pydantic: R4B model errors become ValidationIssues with FHIRPaths."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from conformance import ValidationIssue, validate_resource
from conformance._pydantic import WITHOUT_R4B_MODEL, fhirpath, issue_from_error, pydantic_issues, r4b_model


def r4b_errors(data: dict[str, Any]) -> list[Any]:
    model = r4b_model(data["resourceType"])
    assert model is not None
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value.errors(include_url=False)


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("name", 0, "family"), "Patient.name[0].family"),
        (("_birthDate", "extension", 0, "url"), "Patient.birthDate.extension[0].url"),
        (("contained", 0, "function-after[validate(), str]", "active"), "Patient.contained[0].active"),
        ((), "Patient"),
    ],
)
def test_fhirpath_from_pydantic_loc(loc: tuple[int | str, ...], path: str) -> None:
    assert fhirpath("Patient", loc) == path


def test_translates_each_error_kind() -> None:
    data = {
        "resourceType": "Patient",
        "foo": 1,
        "birthDate": "2020-13-01",
        "name": [{"family": 5}],
        "link": [{"type": "seealso"}],
    }
    issues = [issue_from_error("Patient", e) for e in r4b_errors(data)]
    assert sorted(issues, key=lambda i: i.expression or "") == [
        ValidationIssue(
            "error",
            "value",
            "Value `2020-13-01` of `Patient.birthDate` is invalid: date value string does not match spec regex.",
            "Patient.birthDate",
        ),
        ValidationIssue("error", "structure", "Unknown element `foo` in `Patient`.", "Patient.foo"),
        ValidationIssue(
            "error", "required", "Missing required element `other` in `Patient.link[0]`.", "Patient.link[0].other"
        ),
        ValidationIssue(
            "error",
            "structure",
            "Value `5` of `Patient.name[0].family` has the wrong JSON type: input should be a valid string.",
            "Patient.name[0].family",
        ),
    ]


def test_ignored_error_types_are_left_out() -> None:
    data = {"resourceType": "Patient", "foo": 1, "gender": 3}
    assert [i.expression for i in pydantic_issues("Patient", data, ignore=frozenset({"extra_forbidden"}))] == [
        "Patient.gender"
    ]


def test_library_crashes_are_not_raised() -> None:
    # fhir.resources concatenates a numeric nested resourceType to a string (TypeError).
    assert pydantic_issues("Patient", {"resourceType": "Patient", "contained": [{"resourceType": 5}]}) == []


def test_types_without_a_usable_r4b_model() -> None:
    assert len(WITHOUT_R4B_MODEL) == 20
    assert r4b_model("MedicinalProduct") is None
    assert r4b_model("Evidence") is None  # exists in R4B, with another structure
    assert r4b_model("Patient") is not None


def test_r4b_second_opinion_reaches_validate_resource() -> None:
    # A trailing no-break space: R4's Java-style regex allows it, fhir.resources does not.
    # (An unbound code: `Patient.gender`'s required binding would reject it first.)
    patient = {"resourceType": "Patient", "extension": [{"url": "http://example.org/x", "valueCode": "male\u00a0"}]}
    assert validate_resource(patient, use_r4b_models=False) == []
    assert validate_resource(patient) == [
        ValidationIssue(
            "error",
            "value",
            "Value `male\u00a0` of `Patient.extension[0].valueCode` is invalid: string should match pattern"
            " '^[^\\s]+(\\s[^\\s]+)*$'.",
            "Patient.extension[0].valueCode",
        )
    ]
