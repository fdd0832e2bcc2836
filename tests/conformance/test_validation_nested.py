"""validate_resource on R4-only types and on resources inside other resources."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import ValidationIssue, validate_resource


def error(code: str, diagnostics: str, expression: str | None) -> ValidationIssue:
    return ValidationIssue("error", code, diagnostics, expression)


MEDICINAL_PRODUCT: dict[str, Any] = {
    "resourceType": "MedicinalProduct",
    "id": "mp1",
    "domain": {"system": "http://hl7.org/fhir/medicinal-product-domain", "code": "Human"},  # a Coding in R4
    "name": [
        {
            "productName": "Equilidem 2.5 mg film-coated tablets",
            "namePart": [{"part": "Equilidem", "type": {"code": "INV"}}],
            "countryLanguage": [{"country": {"text": "EU"}, "language": {"text": "en"}}],
        }
    ],
    "marketingStatus": [
        {"country": {"text": "EU"}, "status": {"text": "active"}, "dateRange": {"start": "2016-01-01"}}
    ],
}


# -- R4 types without an R4B model -------------------------------------------------------------


def test_valid_medicinal_product() -> None:
    assert validate_resource(MEDICINAL_PRODUCT) == []


def test_invalid_medicinal_product() -> None:
    product = {
        **MEDICINAL_PRODUCT,
        "name": [{"namePart": [{"part": 5}]}],
        "marketingStatus": [{"country": {"text": "EU"}, "status": {"text": "x"}, "dateRange": {"start": "2016-02-30"}}],
        "brand": "Equilidem",
    }
    assert validate_resource(product) == [
        error(
            "structure",
            "Value `5` of `MedicinalProduct.name[0].namePart[0].part` must be a JSON string (a FHIR `string`).",
            "MedicinalProduct.name[0].namePart[0].part",
        ),
        error(
            "required",
            "Missing required element `type` in `MedicinalProduct.name[0].namePart[0]`.",
            "MedicinalProduct.name[0].namePart[0].type",
        ),
        error(
            "required",
            "Missing required element `productName` in `MedicinalProduct.name[0]`.",
            "MedicinalProduct.name[0].productName",
        ),
        error(
            "value",
            "Value `2016-02-30` of `MedicinalProduct.marketingStatus[0].dateRange.start` is not a valid `dateTime`: "
            "no such day.",
            "MedicinalProduct.marketingStatus[0].dateRange.start",
        ),
        error("structure", "Unknown element `brand` in `MedicinalProduct`.", "MedicinalProduct.brand"),
    ]


def test_medicinal_product_needs_a_name() -> None:
    product = {"resourceType": "MedicinalProduct"}
    assert validate_resource(product) == [
        error("required", "Missing required element `name` in `MedicinalProduct`.", "MedicinalProduct.name")
    ]


def test_evidence_uses_the_r4_structure() -> None:
    # R4 Evidence has exposureBackground (required); R4B's has neither it nor the same shape.
    evidence = {
        "resourceType": "Evidence",
        "status": "draft",
        "exposureBackground": {"reference": "EvidenceVariable/ev1"},
    }
    assert validate_resource(evidence) == []
    r4b_style = {"resourceType": "Evidence", "status": "draft", "variableDefinition": [{}]}
    assert [(i.code, i.expression) for i in validate_resource(r4b_style)] == [
        ("structure", "Evidence.variableDefinition"),
        ("required", "Evidence.exposureBackground"),
    ]


# -- contained resources ---------------------------------------------------------------------------


def test_contained_resource_referenced_locally() -> None:
    patient = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Practitioner", "id": "gp", "name": [{"family": "Who"}]}],
        "generalPractitioner": [{"reference": "#gp"}],
    }
    assert validate_resource(patient) == []


def test_contained_resource_errors_have_paths_through_the_container() -> None:
    patient = {
        "resourceType": "Patient",
        "contained": [
            {"resourceType": "Practitioner", "id": "gp", "gender": "male", "nickname": "Doc"},
            {"resourceType": "Observation", "id": "o1", "status": "final"},
        ],
    }
    assert validate_resource(patient) == [
        error("structure", "Unknown element `nickname` in `Patient.contained[0]`.", "Patient.contained[0].nickname"),
        error("required", "Missing required element `code` in `Patient.contained[1]`.", "Patient.contained[1].code"),
    ]


def test_local_reference_must_resolve() -> None:
    patient = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Practitioner", "id": "gp"}],
        "generalPractitioner": [{"reference": "#nobody"}],
    }
    assert validate_resource(patient) == [
        error(
            "value",
            "Reference `#nobody` at `Patient.generalPractitioner[0].reference` matches no contained resource.",
            "Patient.generalPractitioner[0].reference",
        )
    ]


def test_malformed_contained_id_is_reported_not_crashed_on() -> None:
    patient = {
        "resourceType": "Patient",
        "contained": [{"resourceType": "Practitioner", "id": ["gp"]}],
        "generalPractitioner": [{"reference": "#gp"}],
    }
    assert [(i.code, i.expression) for i in validate_resource(patient)] == [
        ("structure", "Patient.contained[0].id"),
        ("value", "Patient.generalPractitioner[0].reference"),
    ]


def test_contained_resources_cannot_nest_or_be_unknown() -> None:
    patient = {
        "resourceType": "Patient",
        "contained": [
            {"resourceType": "Practitioner", "id": "a", "contained": [{"resourceType": "Patient", "id": "b"}]},
            {"resourceType": "SubscriptionTopic", "id": "c"},
        ],
    }
    assert validate_resource(patient) == [
        error(
            "invariant",
            "Contained resource `Patient.contained[0]` must not contain other resources (dom-2).",
            "Patient.contained[0].contained",
        ),
        error(
            "not-supported",
            "Resource type `SubscriptionTopic` is not a FHIR R4 (4.0.1) resource type.",
            "Patient.contained[1].resourceType",
        ),
    ]


def test_r4_only_type_contained_in_r4b_modelled_resource() -> None:
    # fhir.resources raises KeyError on this; the R4 walker validates it instead.
    patient = {
        "resourceType": "Patient",
        "contained": [MEDICINAL_PRODUCT],
        # dom-3: a contained resource must be referred to from its container.
        "extension": [
            {"url": "http://example.org/product", "valueReference": {"reference": f"#{MEDICINAL_PRODUCT['id']}"}}
        ],
    }
    assert validate_resource(patient) == []


# -- Bundle and Parameters ----------------------------------------------------------------------------


def test_bundle_entries_are_validated() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:76f26ce3-5aac-4b16-ac35-321ff6a7f63c", "resource": MEDICINAL_PRODUCT},
            {"resource": {"resourceType": "Observation", "code": {"text": "x"}, "valueRatioRange": {}}},
            {"resource": {"resourceType": "SubscriptionTopic"}},
        ],
    }
    assert validate_resource(bundle) == [
        error(
            "structure",
            "Unknown element `valueRatioRange` in `Bundle.entry[1].resource`.",
            "Bundle.entry[1].resource.valueRatioRange",
        ),
        error(
            "required",
            "Missing required element `status` in `Bundle.entry[1].resource`.",
            "Bundle.entry[1].resource.status",
        ),
        error(
            "not-supported",
            "Resource type `SubscriptionTopic` is not a FHIR R4 (4.0.1) resource type.",
            "Bundle.entry[2].resource.resourceType",
        ),
    ]


def test_bundle_entry_local_references_are_scoped_per_entry() -> None:
    patient = {"resourceType": "Patient", "contained": [{"resourceType": "Practitioner", "id": "gp"}]}
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "performer": [{"reference": "#gp"}],  # `gp` is contained in the Patient entry, not here
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient}, {"resource": observation}],
    }
    assert [i.expression for i in validate_resource(bundle)] == ["Bundle.entry[1].resource.performer[0].reference"]


@pytest.mark.parametrize("use_r4b_models", [True, False])
def test_parameters_resource_parts(use_r4b_models: bool) -> None:
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": {"resourceType": "Patient", "birthDate": "2020-13-01"}},
            {"name": "nested", "part": [{"name": "flag", "valueBoolean": "yes"}]},
        ],
    }
    assert validate_resource(params, use_r4b_models=use_r4b_models) == [
        error(
            "value",
            "Value `2020-13-01` of `Parameters.parameter[0].resource.birthDate` is not a valid `date`.",
            "Parameters.parameter[0].resource.birthDate",
        ),
        error(
            "structure",
            "Value `yes` of `Parameters.parameter[1].part[0].valueBoolean` must be a JSON boolean (a FHIR `boolean`).",
            "Parameters.parameter[1].part[0].valueBoolean",
        ),
    ]
