"""R4 invariants (``ElementDefinition.constraint``): errors reject, warnings only report, with exact FHIRPaths."""

from __future__ import annotations

import json
from typing import Any

from conformance import ValidationIssue, _invariants, validate_resource
from conformance._invariants import invariants_at, not_evaluated
from conformance.build_definitions import DATA_DIR
from conformance.build_invariants import OUTPUT_NAME

OBS_CODE = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
OBS_6 = "dataAbsentReason SHALL only be present if Observation.value[x] is not present"
PAT_1 = "SHALL at least contain a contact's details or a reference to an organization"
PER_1 = "If present, start SHALL have a lower value than end"
QTY_3 = "If a code for the unit is present, the system SHALL also be present"


def invariant(key: str, human: str, expression: str, severity: str = "error") -> ValidationIssue:
    return ValidationIssue(
        severity,  # type: ignore[arg-type]
        "invariant",
        f"Constraint {key} failed: {human} (at `{expression}`).",
        expression,
    )


def observation(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": OBS_CODE, **extra}


ABSENT = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "unknown"}]}


def test_obs_6_value_and_data_absent_reason() -> None:
    assert validate_resource(observation(valueString="7", dataAbsentReason=ABSENT)) == [
        invariant("obs-6", OBS_6, "Observation")
    ]
    assert validate_resource(observation(dataAbsentReason=ABSENT)) == []
    assert validate_resource(observation(valueString="7")) == []


def test_obs_7_value_with_a_component_of_the_same_code() -> None:
    component = {"code": OBS_CODE, "valueQuantity": {"value": 1}}
    issues = validate_resource(observation(valueString="7", component=[component]))
    assert [(i.severity, i.code, i.expression) for i in issues] == [("error", "invariant", "Observation")]
    assert issues[0].diagnostics.startswith("Constraint obs-7 failed: If Observation.code is the same as")
    other = {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}
    assert validate_resource(observation(valueString="7", component=[{**component, "code": other}])) == []


def test_pat_1_contact_without_details() -> None:
    relationship = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "C"}]}]
    patient = {"resourceType": "Patient", "contact": [{"name": {"family": "Ok"}}, {"relationship": relationship}]}
    assert validate_resource(patient) == [invariant("pat-1", PAT_1, "Patient.contact[1]")]
    patient["contact"][1]["organization"] = {"reference": "Organization/o1"}
    assert validate_resource(patient) == []


def test_per_1_period_end_before_start_a_datatype_constraint() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "X", "period": {"start": "2020-02-01", "end": "2020-01-31"}}],
    }
    assert validate_resource(patient) == [invariant("per-1", PER_1, "Patient.name[0].period")]
    patient["name"][0]["period"]["end"] = "2020-02-01T10:00:00Z"
    assert validate_resource(patient) == []
    # per-1 uses hasValue(), which fhirpathpy lacks and the project supplies: an end of extensions alone passes.
    absent = {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
    patient["name"][0]["period"] = {"start": "2020-02-01", "_end": absent}
    assert validate_resource(patient) == []


def test_qty_3_unit_code_without_system() -> None:
    assert validate_resource(observation(valueQuantity={"value": 1, "code": "mg"})) == [
        invariant("qty-3", QTY_3, "Observation.valueQuantity")
    ]
    assert (
        validate_resource(observation(valueQuantity={"value": 1, "code": "mg", "system": "http://unitsofmeasure.org"}))
        == []
    )


def test_ext_1_extension_with_both_value_and_extensions() -> None:
    extension = {"url": "http://example.org/x", "valueString": "a", "extension": [{"url": "y", "valueString": "b"}]}
    issues = validate_resource({"resourceType": "Patient", "extension": [extension]})
    assert [(i.code, i.expression) for i in issues] == [("invariant", "Patient.extension[0]")]
    assert issues[0].diagnostics.startswith(
        "Constraint ext-1 failed: Must have either extensions or value[x], not both"
    )


def test_ref_1_unresolved_local_reference_is_the_walkers_check() -> None:
    issues = validate_resource({"resourceType": "Patient", "generalPractitioner": [{"reference": "#nobody"}]})
    assert [(i.code, i.expression) for i in issues] == [("value", "Patient.generalPractitioner[0].reference")]
    assert "ref-1" in not_evaluated()


def test_dom_3_contained_resource_not_referred_to() -> None:
    patient = {"resourceType": "Patient", "contained": [{"resourceType": "Practitioner", "id": "gp"}]}
    issues = validate_resource(patient)
    assert [(i.severity, i.code, i.expression) for i in issues] == [("error", "invariant", "Patient")]
    assert issues[0].diagnostics.startswith("Constraint dom-3 failed:")
    assert "`Patient.contained[0]`, id `gp`" in issues[0].diagnostics
    assert validate_resource({**patient, "generalPractitioner": [{"reference": "#gp"}]}) == []
    # A contained resource may instead refer to its container (`#`).
    provenance = {
        "resourceType": "Provenance",
        "id": "pv",
        "target": [{"reference": "#"}],
        "recorded": "2020-01-01T00:00:00Z",
        "agent": [{"who": {"reference": "Practitioner/x"}}],
    }
    assert validate_resource({"resourceType": "Patient", "contained": [provenance]}) == []


def test_constraint_inside_a_contained_resource() -> None:
    contained = observation(id="o1", valueString="7", dataAbsentReason=ABSENT)
    patient = {
        "resourceType": "Patient",
        "contained": [contained],
        "extension": [{"url": "http://example.org/obs", "valueReference": {"reference": "#o1"}}],
    }
    assert validate_resource(patient) == [invariant("obs-6", OBS_6, "Patient.contained[0]")]


def test_constraint_inside_a_bundle_entry_uses_the_entry_as_resource() -> None:
    # obs-7 compares with %resource.code: the entry's Observation, not the Bundle.
    component = {"code": OBS_CODE, "valueQuantity": {"value": 1}}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:76f26ce3-5aac-4b16-ac35-321ff6a7f63c", "resource": observation(valueString="7")},
            {
                "fullUrl": "urn:uuid:76f26ce3-5aac-4b16-ac35-321ff6a7f63d",
                "resource": observation(valueString="7", component=[component]),
            },
        ],
    }
    issues = validate_resource(bundle)
    assert [(i.code, i.expression) for i in issues] == [("invariant", "Bundle.entry[1].resource")]
    assert issues[0].diagnostics.startswith("Constraint obs-7 failed:")


def test_bundle_constraint_bdl_7_full_urls_unique() -> None:
    entry = {"fullUrl": "urn:uuid:76f26ce3-5aac-4b16-ac35-321ff6a7f63c", "resource": {"resourceType": "Patient"}}
    issues = validate_resource({"resourceType": "Bundle", "type": "collection", "entry": [entry, entry]})
    assert [(i.code, i.expression, i.diagnostics.split(":")[0]) for i in issues] == [
        ("invariant", "Bundle", "Constraint bdl-7 failed")
    ]


def test_warning_severity_constraint_is_a_warning() -> None:
    issues = validate_resource(
        {
            "resourceType": "NutritionOrder",
            "status": "active",
            "intent": "order",
            "patient": {"reference": "Patient/p1"},
            "dateTime": "2020-01-01",
        }
    )
    assert [(i.severity, i.code, i.expression) for i in issues] == [("warning", "invariant", "NutritionOrder")]
    assert issues[0].diagnostics.startswith("Constraint nor-1 failed:")


def test_invariants_wait_for_a_structurally_valid_resource() -> None:
    # FHIRPath only runs on JSON the walker accepted: here the unknown element is the only issue.
    issues = validate_resource(observation(valueString="7", dataAbsentReason=ABSENT, bogus=1))
    assert [i.code for i in issues] == ["structure"]


def test_an_expression_that_raises_leaves_the_instance_unjudged() -> None:
    (obs_6,) = [i for i in invariants_at("Observation") if i.key == "obs-6"]

    def broken(*args: Any) -> list[Any]:
        raise ValueError("engine failure")

    patched = type(obs_6)(obs_6.key, obs_6.severity, obs_6.human, obs_6.expression, broken)
    before = _invariants.unevaluable["obs-6"]
    observation_data = observation(valueString="7", dataAbsentReason=ABSENT)
    assert patched.check(observation_data, "Observation", "Observation", observation_data, observation_data) is None
    assert _invariants.unevaluable["obs-6"] == before + 1


def test_each_constraint_is_compiled_once() -> None:
    assert invariants_at("Patient.contact") is invariants_at("Patient.contact")


def test_structural_and_unevaluable_constraints_are_listed_with_reasons() -> None:
    reasons = not_evaluated()
    assert {"ele-1", "dom-2", "dom-3", "dom-6", "txt-1", "txt-2", "ref-1", "ctm-1"} <= set(reasons)
    assert all(reasons.values())


def test_index_shape() -> None:
    data = json.loads((DATA_DIR / OUTPUT_NAME).read_text(encoding="utf-8"))
    constraints = data["constraints"]
    assert [c["key"] for c in constraints["Patient.contact"]] == ["pat-1"]
    assert {"obs-6", "obs-7", "dom-4", "dom-5"} <= {c["key"] for c in constraints["Observation"]}
    assert [c["key"] for c in constraints["Quantity"]] == ["qty-3"]
    assert [c["key"] for c in constraints["Extension"]] == ["ext-1"]
    # ext-1 is kept once, on Extension, not repeated on every `extension` element.
    assert "Patient.extension" not in constraints
    keys = {c["key"] for found in constraints.values() for c in found}
    assert not keys & set(data["notEvaluated"])
    obs_6 = next(c for c in constraints["Observation"] if c["key"] == "obs-6")
    assert obs_6["unlessAbsent"] == "dataAbsentReason"
