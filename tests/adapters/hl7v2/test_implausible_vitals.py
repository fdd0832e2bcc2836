"""A vital sign no living patient can have is stored withheld (dataAbsentReason ``error``, a note
with the value as sent), not stored as a finding and not dropped; plausible ones are untouched."""

from __future__ import annotations

import orjson
from sqlalchemy.orm import Session, sessionmaker

from conformance.validation import validate_resource

from .e2e import msa, rows, running
from .test_decimal_fidelity import stored_content
from .test_listener import ORU


def _vitals(heart_rate: str, temperature: str) -> str:
    return (
        ORU.replace("||182|mg/dL^mg/dL^UCUM|70-105|", f"||{heart_rate}|/min^/min^UCUM||")
        .replace("2345-7^Glucose^LN", "8867-4^Heart rate^LN")
        .replace(
            "OBX|2|ST|2951-2^Sodium^LN||see note||||||F\r",
            f"OBX|2|NM|8310-5^Body temperature^LN||{temperature}|Cel^Cel^UCUM|||||F\r",
        )
    )


def _observations(factory: sessionmaker[Session]) -> list[dict[str, object]]:
    [row] = rows(factory)
    references = [r for r in (row.resources or "").split("\n") if r.startswith("Observation/")]
    return [orjson.loads(stored_content(factory, reference)) for reference in references]


def _notes(observation: dict[str, object]) -> str:
    return " | ".join(note["text"] for note in observation.get("note", []))  # type: ignore[attr-defined, index]


def test_impossible_vitals_are_stored_withheld_with_the_value_in_a_note(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        assert msa(client.call(_vitals("500", "98.6").encode()))[1] == "AA"
    heart, temperature = _observations(factory)
    for observation in (heart, temperature):
        assert "valueQuantity" not in observation
        assert observation["dataAbsentReason"]["coding"][0]["code"] == "error"  # type: ignore[index]
        assert validate_resource(observation) == []
    assert "Recorded value 500 /min withheld" in _notes(heart)
    assert "98.6 Cel" in _notes(temperature) and "degrees Fahrenheit" in _notes(temperature)
    assert "Haemolysed sample." in _notes(temperature)  # the sender's NTE is kept beside it


def test_plausible_vitals_are_stored_as_sent(factory: sessionmaker[Session]) -> None:
    with running(factory) as client:
        assert msa(client.call(_vitals("72", "37.2").encode()))[1] == "AA"
    heart, temperature = _observations(factory)
    assert heart["valueQuantity"]["value"] == 72 and "dataAbsentReason" not in heart  # type: ignore[index]
    assert temperature["valueQuantity"]["value"] == 37.2 and "withheld" not in _notes(temperature)  # type: ignore[index]
