"""The generated R4 element and binding indexes: their shape, and that they match a fresh build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import build_definitions, build_invariants, build_valuesets
from conformance._definitions import raw_definitions


def test_index_shape() -> None:
    data = raw_definitions()
    assert data["fhirVersion"] == "4.0.1"
    assert len(data["resourceTypes"]) == 146
    assert data["primitives"]["date"]["json"] == "string"
    assert data["primitives"]["positiveInt"] == {"json": "integer", "regex": "[1-9][0-9]*"}
    deceased = data["types"]["Patient"]["elements"]["Patient.deceased[x]"]
    assert deceased == {
        "types": {"deceasedBoolean": "boolean", "deceasedDateTime": "dateTime"},
        "min": 0,
        "max": "1",
        "isSummary": True,
        "isModifier": True,
    }
    assert data["types"]["Patient"]["elements"]["Patient.id"]["types"] == {"id": "id"}
    assert data["types"]["Questionnaire"]["elements"]["Questionnaire.item.item"]["contentReference"] == (
        "Questionnaire.item"
    )
    dose = data["types"]["Dosage"]["elements"]["Dosage.doseAndRate.dose[x]"]["types"]
    assert dose == {"doseRange": "Range", "doseQuantity": "SimpleQuantity"}


def test_committed_index_matches_the_definitions(fhir_r4_dir: Path, tmp_path: Path) -> None:
    index = build_definitions.build(build_definitions.find_package(fhir_r4_dir))
    written = build_definitions.write(index, tmp_path)
    committed = Path(build_definitions.__file__).parent / "data" / written.name
    assert written.read_bytes() == committed.read_bytes(), "run `python -m conformance.build_definitions`"


def test_binding_index_shape() -> None:
    data = json.loads((build_definitions.DATA_DIR / build_valuesets.OUTPUT_NAME).read_bytes())
    gender = "http://hl7.org/fhir/ValueSet/administrative-gender"
    assert data["bindings"]["Patient.gender"] == ["required", gender]
    assert data["valueSets"][gender] == {
        "http://hl7.org/fhir/administrative-gender": ["female", "male", "other", "unknown"]
    }
    # Datatype bindings are indexed under the datatype's own paths.
    assert data["bindings"]["ContactPoint.system"][0] == "required"
    assert data["bindings"]["Quantity.comparator"][0] == "required"
    assert data["bindings"]["Encounter.class"] == [
        "extensible",
        "http://terminology.hl7.org/ValueSet/v3-ActEncounterCode",
    ]
    assert {strength for strength, *_ in data["bindings"].values()} == {"required", "extensible", "preferred"}
    # Externally defined systems are open (checked for form), explicit enumerations of them closed.
    assert data["valueSets"]["http://hl7.org/fhir/ValueSet/mimetypes"] == {"urn:ietf:bcp:13": None}
    assert data["valueSets"]["http://hl7.org/fhir/ValueSet/units-of-time"]["http://unitsofmeasure.org"] == [
        "a", "d", "h", "min", "mo", "s", "wk"
    ]  # fmt: skip
    # A ValueSet import (`compose.include.valueSet`) and a whole CodeSystem with a nested hierarchy.
    assert "_ActEncounterCode" not in data["valueSets"]["http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"]
    assert data["bindings"]["CapabilityStatement.format"][2] == ["json", "ttl", "xml"]
    assert sorted(data["unexpanded"]) == [
        "http://dicom.nema.org/medical/dicom/current/output/chtml/part04/sect_B.5.html#table_B.5-1",
        "http://dicom.nema.org/medical/dicom/current/output/chtml/part16/sect_CID_29.html",
        "http://loinc.org/vs/LL379-9",
        "http://www.rsna.org/RadLex_Playbook.aspx",
    ]


def test_committed_binding_index_matches_the_definitions(fhir_r4_dir: Path, tmp_path: Path) -> None:
    package = build_definitions.find_package(fhir_r4_dir)
    written = build_valuesets.write(build_valuesets.build(package), tmp_path)
    committed = build_definitions.DATA_DIR / written.name
    assert written.read_bytes() == committed.read_bytes(), "run `python -m conformance.build_definitions`"


def test_committed_invariant_index_matches_the_definitions(fhir_r4_dir: Path, tmp_path: Path) -> None:
    package = build_definitions.find_package(fhir_r4_dir)
    written = build_invariants.write(build_invariants.build(package), tmp_path)
    committed = build_definitions.DATA_DIR / written.name
    assert written.read_bytes() == committed.read_bytes(), "run `python -m conformance.build_definitions`"


def test_find_package_rejects_other_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"No `hl7\.fhir\.r4\.core` 4\.0\.1 package"):
        build_definitions.find_package(tmp_path)


def test_main_usage() -> None:
    assert build_definitions.main([]) == 2
