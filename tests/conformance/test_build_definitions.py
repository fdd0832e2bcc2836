"""The generated R4 element index: its shape, and that it matches a fresh build."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import build_definitions
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


def test_find_package_rejects_other_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"No `hl7\.fhir\.r4\.core` 4\.0\.1 package"):
        build_definitions.find_package(tmp_path)


def test_main_usage() -> None:
    assert build_definitions.main([]) == 2
