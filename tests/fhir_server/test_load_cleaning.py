"""`fhir-server load` codes units in UCUM and withholds impossible vital signs, and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from fhir_server.cli import main

UCUM = "http://unitsofmeasure.org"


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    return database_url


def vital(id_: str, loinc: str, quantity: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": quantity,
    }


def test_ndjson_units_are_coded_in_ucum_and_impossible_values_withheld(
    env: str, client: FlaskClient, tmp_path: Path
) -> None:
    lines = [
        {"resourceType": "Patient", "id": "p1"},
        vital("hr", "8867-4", {"value": 72, "unit": "bpm"}),
        vital("hr-500", "8867-4", {"value": 500, "unit": "beats/min"}),
        vital("temp-f", "8310-5", {"value": 98.6, "unit": "°F"}),
        vital("temp-mislabelled", "8310-5", {"value": 98.6, "unit": "°C"}),
        vital("glucose", "2345-7", {"value": 5.4, "unit": "mmol/l"}),
    ]
    path = tmp_path / "vitals.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines))

    result = CliRunner().invoke(main, ["load", str(path)])

    assert result.exit_code == 0, result.output
    assert "Stored 6 resources" in result.output
    assert "flagged 2 implausible values" in result.stderr
    assert "coded 5 units in UCUM" in result.stderr
    assert f"coded {path} line 2: valueQuantity unit `bpm` coded as UCUM `/min`" in result.stderr
    assert f"flagged {path} line 3: Recorded value 500 /min withheld" in result.stderr

    hr = client.get("/fhir/Observation/hr").get_json()
    assert hr["valueQuantity"] == {"value": 72, "unit": "bpm", "system": UCUM, "code": "/min"}
    temp_f = client.get("/fhir/Observation/temp-f").get_json()
    assert temp_f["valueQuantity"]["code"] == "[degF]"
    assert "dataAbsentReason" not in temp_f
    glucose = client.get("/fhir/Observation/glucose").get_json()
    assert glucose["valueQuantity"] == {"value": 5.4, "unit": "mmol/l", "system": UCUM, "code": "mmol/L"}

    withheld = client.get("/fhir/Observation/temp-mislabelled").get_json()
    assert "valueQuantity" not in withheld
    assert withheld["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert "looks like a value in degrees Fahrenheit" in withheld["note"][0]["text"]
    # The search index follows the stored value: the withheld heart rate matches no range.
    found = client.get("/fhir/Observation?code=8867-4&value-quantity=gt100").get_json()
    assert found["total"] == 0


def test_transaction_bundle_entries_are_cleaned_too(env: str, client: FlaskClient, tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:9f0c4e1e-2b7a-4f7e-9d3c-1a2b3c4d5e6f",
                "resource": vital("x", "29463-7", {"value": 154, "unit": "lbs"}) | {"id": None},
                "request": {"method": "POST", "url": "Observation"},
            }
        ],
    }
    del bundle["entry"][0]["resource"]["id"]
    del bundle["entry"][0]["resource"]["subject"]
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(bundle))

    result = CliRunner().invoke(main, ["load", str(path)])

    assert result.exit_code == 0, result.output
    assert f"coded {path} entry 0: valueQuantity unit `lbs` coded as UCUM `[lb_av]`" in result.stderr
    stored = client.get("/fhir/Observation?code=29463-7").get_json()["entry"][0]["resource"]
    assert stored["valueQuantity"] == {"value": 154, "unit": "lbs", "system": UCUM, "code": "[lb_av]"}
