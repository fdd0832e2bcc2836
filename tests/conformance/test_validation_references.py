"""validate_resource on Reference.reference shapes, local references and conditional references."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import ValidationIssue, validate_resource


def error(code: str, diagnostics: str, expression: str | None) -> ValidationIssue:
    return ValidationIssue("error", code, diagnostics, expression)


def observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **extra}


GOOD_REFERENCES = [
    "Patient/123",
    "Patient/a-b.c",
    "Patient/123/_history/2",
    "https://example.org/fhir/Patient/123",
    "http://example.org/anything?x=1",
    "urn:uuid:76f26ce3-5aac-4b16-ac35-321ff6a7f63c",
    "urn:oid:2.16.840.1.113883.4.1",
]


@pytest.mark.parametrize("ref", GOOD_REFERENCES)
def test_good_reference_shapes(ref: str) -> None:
    assert validate_resource(observation(subject={"reference": ref})) == []


@pytest.mark.parametrize(
    "ref",
    [
        "Patient/",
        "patient/1",
        "Patient/a b",
        "Patient/1/_history/",
        "ftp://x/Patient/1",
        "urn:uuid:xyz",
        "urn:oid:9.1",
        "Patient?identifier=x|1",
        "http://",
    ],
)
def test_bad_reference_shapes(ref: str) -> None:
    assert validate_resource(observation(subject={"reference": ref})) == [
        error(
            "value",
            f"Reference `{ref}` at `Observation.subject.reference` is not a valid reference: expected `Type/id`, "
            "`Type/id/_history/vid`, an absolute http(s) URL, `#id`, `urn:uuid:<uuid>` or `urn:oid:<oid>`.",
            "Observation.subject.reference",
        )
    ]


def test_reference_to_a_non_r4_type() -> None:
    obs = observation(performer=[{"reference": "Practitioner/1"}, {"reference": "SubscriptionTopic/1"}])
    assert validate_resource(obs) == [
        error(
            "value",
            "Reference `SubscriptionTopic/1` at `Observation.performer[1].reference` names `SubscriptionTopic`, "
            "which is not a FHIR R4 resource type.",
            "Observation.performer[1].reference",
        )
    ]


def test_conditional_references_only_inside_transactions() -> None:
    entry = {
        "resource": observation(subject={"reference": "Patient?identifier=http://x|1"}),
        "request": {"method": "POST", "url": "Observation"},
    }
    assert validate_resource({"resourceType": "Bundle", "type": "transaction", "entry": [entry]}) == []
    issues = validate_resource({"resourceType": "Bundle", "type": "batch-response", "entry": [entry]})
    assert [i.expression for i in issues] == ["Bundle.entry[0].resource.subject.reference"]
