"""Terminology bindings: required ones are errors, extensible and preferred ones warnings, with exact FHIRPaths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from conformance import ValidationIssue, validate_resource
from conformance._terminology import bindings

OBS_CODE = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"


def error(diagnostics: str, expression: str) -> ValidationIssue:
    return ValidationIssue("error", "code-invalid", diagnostics, expression)


def warning(diagnostics: str, expression: str) -> ValidationIssue:
    return ValidationIssue("warning", "code-invalid", diagnostics, expression)


def observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": OBS_CODE, **extra}


def condition(clinical_status: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Condition", "subject": {"reference": "Patient/p1"}, "clinicalStatus": clinical_status}


# -- required bindings on `code` elements ------------------------------------------------------


def test_patient_gender_outside_the_value_set_is_an_error() -> None:
    assert validate_resource({"resourceType": "Patient", "gender": "nope"}) == [
        error(
            f"Value `nope` of `Patient.gender` is not in the value set {GENDER_VS} (required binding).",
            "Patient.gender",
        )
    ]


def test_observation_status_outside_the_value_set_is_an_error() -> None:
    assert validate_resource(observation(status="bogus")) == [
        error(
            "Value `bogus` of `Observation.status` is not in the value set"
            " http://hl7.org/fhir/ValueSet/observation-status (required binding).",
            "Observation.status",
        )
    ]


def test_codes_are_case_sensitive() -> None:
    assert [i.expression for i in validate_resource({"resourceType": "Patient", "gender": "Male"})] == [
        "Patient.gender"
    ]


def test_datatype_binding_contact_point_system() -> None:
    patient = {
        "resourceType": "Patient",
        "telecom": [{"system": "phone", "value": "1"}, {"system": "pigeon", "value": "coo"}],
    }
    assert validate_resource(patient) == [
        error(
            "Value `pigeon` of `Patient.telecom[1].system` is not in the value set"
            " http://hl7.org/fhir/ValueSet/contact-point-system (required binding).",
            "Patient.telecom[1].system",
        )
    ]


def test_datatype_binding_quantity_comparator() -> None:
    assert validate_resource(observation(valueQuantity={"value": 5, "comparator": "~"})) == [
        error(
            "Value `~` of `Observation.valueQuantity.comparator` is not in the value set"
            " http://hl7.org/fhir/ValueSet/quantity-comparator (required binding).",
            "Observation.valueQuantity.comparator",
        )
    ]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", [{"use": "nickname-ish", "family": "A"}]),
        ("address", [{"use": "home", "type": "castle"}]),
        ("identifier", [{"use": "main", "value": "1"}]),
        ("text", {"status": "drafted", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}),
    ],
)
def test_other_datatype_bindings(path: str, value: Any) -> None:
    issues = validate_resource({"resourceType": "Patient", path: value})
    assert [(i.severity, i.code) for i in issues] == [("error", "code-invalid")]
    assert "(required binding)" in issues[0].diagnostics


def test_in_a_contained_resource_and_a_bundle_entry() -> None:
    patient = {"resourceType": "Patient", "contained": [{"resourceType": "Patient", "id": "m", "gender": "nope"}]}
    assert [i.expression for i in validate_resource(patient)] == ["Patient.contained[0].gender"]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": observation()}, {"resource": observation(status="bogus")}],
    }
    assert validate_resource(bundle) == [
        error(
            "Value `bogus` of `Bundle.entry[1].resource.status` is not in the value set"
            " http://hl7.org/fhir/ValueSet/observation-status (required binding).",
            "Bundle.entry[1].resource.status",
        )
    ]
    bundle["type"] = "party"
    assert [i.expression for i in validate_resource(bundle)] == ["Bundle.type", "Bundle.entry[1].resource.status"]


def test_valid_codes_are_accepted() -> None:
    patient = {
        "resourceType": "Patient",
        "language": "en-US",
        "gender": "female",
        "telecom": [{"system": "email", "use": "work", "value": "a@example.org"}],
        "name": [{"use": "official", "family": "A"}],
        "address": [{"use": "home", "type": "both"}],
        "photo": [{"contentType": "image/png"}, {"contentType": "text/plain; charset=utf-8"}],
    }
    assert validate_resource(patient) == []
    assert validate_resource(observation(valueQuantity={"value": 5, "comparator": "<="})) == []


# -- externally defined systems: checked for form ------------------------------------------------


def test_mime_types_are_checked_for_form() -> None:
    issues = validate_resource({"resourceType": "Patient", "photo": [{"contentType": "image png"}]})
    assert issues == [
        error(
            "Value `image png` of `Patient.photo[0].contentType` is not in the value set"
            " http://hl7.org/fhir/ValueSet/mimetypes (required binding):"
            " it is not a well-formed code of `urn:ietf:bcp:13`.",
            "Patient.photo[0].contentType",
        )
    ]
    # Any well-formed mime type passes: the registry is not in the R4 package.
    assert validate_resource({"resourceType": "Patient", "photo": [{"contentType": "application/x-made-up"}]}) == []


def test_currencies_are_checked_for_form() -> None:
    invoice = {"resourceType": "Invoice", "status": "issued", "totalNet": {"value": 1, "currency": "EUR"}}
    assert validate_resource(invoice) == []
    invoice["totalNet"]["currency"] = "euro"
    assert [i.expression for i in validate_resource(invoice)] == ["Invoice.totalNet.currency"]


def test_capability_statement_format_also_allows_the_short_names() -> None:
    # Its definition's comment: "xml", "json" and "ttl" are allowed, ... Otherwise, mime types are legal here.
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-01-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+xml", "yaml"],
    }
    assert [i.expression for i in validate_resource(statement, use_r4b_models=False)] == [
        "CapabilityStatement.format[2]"
    ]


# -- CodeableConcept and Coding ------------------------------------------------------------------


def test_codeable_concept_with_a_coding_from_the_value_set_is_accepted() -> None:
    other = {"system": "http://example.org/status", "code": "on"}
    ok = condition({"coding": [other, {"system": CLINICAL, "code": "active"}], "text": "Active"})
    assert validate_resource(ok) == []


def test_codeable_concept_with_a_code_outside_the_value_set() -> None:
    assert validate_resource(condition({"coding": [{"system": CLINICAL, "code": "dormant"}]})) == [
        error(
            f"The concept of `Condition.clinicalStatus` (codings `{CLINICAL}|dormant`) is not in the value set"
            " http://hl7.org/fhir/ValueSet/condition-clinical (required binding).",
            "Condition.clinicalStatus",
        )
    ]


def test_codeable_concept_with_codings_from_another_system_only() -> None:
    issues = validate_resource(condition({"coding": [{"system": "http://example.org/status", "code": "active"}]}))
    assert [(i.severity, i.expression) for i in issues] == [("error", "Condition.clinicalStatus")]


def test_text_only_codeable_concept_fails_a_required_binding() -> None:
    assert validate_resource(condition({"text": "active"})) == [
        error(
            "The concept of `Condition.clinicalStatus` (text only, no coding) is not in the value set"
            " http://hl7.org/fhir/ValueSet/condition-clinical (required binding).",
            "Condition.clinicalStatus",
        )
    ]


def test_codeable_concept_of_extensions_alone_asserts_nothing() -> None:
    absent = {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
    assert validate_resource(condition(absent)) == []


def test_coding_in_a_required_value_set() -> None:
    # R4's base definitions bind no Coding element `required`, so the ValueSet's own check is
    # exercised here: right system and code, wrong code, a system it does not draw on, no system.
    value_set = bindings()["Condition.clinicalStatus"].value_set
    assert value_set.coding_problem(CLINICAL, "active") is None
    assert value_set.coding_problem(CLINICAL, "dormant") == ""
    assert value_set.coding_problem("http://snomed.info/sct", "55561003") == (
        "the value set has no codes from system `http://snomed.info/sct`"
    )
    assert value_set.coding_problem(None, "active") is None


def test_extensible_coding_miss_is_a_warning() -> None:
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://example.org/classes", "code": "walk-in"},
    }
    assert validate_resource(encounter) == [
        warning(
            "Code `http://example.org/classes|walk-in` of `Encounter.class` is not in the value set"
            " http://terminology.hl7.org/ValueSet/v3-ActEncounterCode (extensible binding):"
            " the value set has no codes from system `http://example.org/classes`.",
            "Encounter.class",
        )
    ]
    encounter["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}
    assert validate_resource(encounter) == []


def test_extensible_codeable_concept_miss_is_a_warning_and_the_r4b_check_still_runs() -> None:
    interpretation = [
        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "ZZ"}]}
    ]
    issues = validate_resource(observation(interpretation=interpretation))
    assert [(i.severity, i.expression) for i in issues] == [("warning", "Observation.interpretation[0]")]
    assert "(extensible binding)" in issues[0].diagnostics
    # A warning does not spare the R4B second opinion: a trailing no-break space only it rejects.
    extension = [{"url": "http://example.org/x", "valueCode": "a\u00a0"}]
    issues = validate_resource(observation(interpretation=interpretation, extension=extension))
    assert [(i.severity, i.expression) for i in issues] == [
        ("warning", "Observation.interpretation[0]"),
        ("error", "Observation.extension[0].valueCode"),
    ]


def test_preferred_miss_is_a_warning() -> None:
    issues = validate_resource({"resourceType": "Patient", "language": "tlh"})
    assert [(i.severity, i.expression) for i in issues] == [("warning", "Patient.language")]
    assert "(preferred binding)" in issues[0].diagnostics


def test_hierarchical_expansion_of_a_filtered_value_set() -> None:
    # v3-ActEncounterCode is ActCode `is-a _ActEncounterCode`, minus the abstract head itself.
    value_set = bindings()["Encounter.class"].value_set
    codes = value_set.closed["http://terminology.hl7.org/CodeSystem/v3-ActCode"]
    assert {"AMB", "EMER", "IMP", "ACUTE", "NONAC"} <= codes
    assert "_ActEncounterCode" not in codes
    assert "_ActAccountCode" not in codes


def binding_errors(resource: dict[str, Any]) -> list[ValidationIssue]:
    return [i for i in validate_resource(resource, use_r4b_models=False) if i.is_error and i.code == "code-invalid"]


def test_official_r4_resources_meet_their_required_bindings(fhir_r4_dir: Path) -> None:
    # Every definition the R4 package ships (StructureDefinitions, ValueSets, CapabilityStatements...)
    # and the spec's own Bundles: a large, opt-in run. Warnings are allowed.
    files = sorted(fhir_r4_dir.glob("hl7.fhir.r4.core-4.0.1/package/*-*.json"))
    files += sorted(fhir_r4_dir.glob("official-bundles/*.json"))
    rejected = {path.name: errors for path in files if (errors := binding_errors(orjson.loads(path.read_bytes())))}
    assert rejected == {}
    assert len(files) > 4000
