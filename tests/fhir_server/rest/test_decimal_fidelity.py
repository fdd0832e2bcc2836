"""Decimals read back exactly as written, on every read path (http://hl7.org/fhir/R4/datatypes.html#decimal).

The checks compare the number tokens of the raw response bytes with those of the
request: ``0.40`` must come back as ``0.40``, not ``0.4``; comparing parsed floats
would not tell them apart.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fhir_factories import FHIR_JSON
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from fhir_server.cli import main

# Strings are matched (and skipped) first, so digits inside them are not taken for numbers.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)')

PATIENT = b'{"resourceType":"Patient","id":"p1","name":[{"family":"Exact"}]}'

#: Trailing zeros, both exponent letters and signs, long and 30-digit decimals, a
#: decimal written as a huge integer, -0, the largest R4 integer; nested in
#: components, referenceRange, extensions and a contained resource.
OBSERVATION = """{
  "resourceType": "Observation",
  "id": "exact",
  "contained": [
    {
      "resourceType": "Medication",
      "id": "med",
      "amount": {"numerator": {"value": 0.10, "unit": "mg"}, "denominator": {"value": 1.0E0, "unit": "mL"}}
    }
  ],
  "extension": [
    {"url": "http://example.org/precise", "valueDecimal": 123456789012345678901234567890.123456789},
    {"url": "http://example.org/integral", "valueDecimal": 123456789012345678901234567890},
    {"url": "http://example.org/dose", "valueQuantity": {"value": 2.5000E-7, "unit": "g"}},
    {"url": "http://example.org/zero", "valueDecimal": -0}
  ],
  "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
  "subject": {"reference": "Patient/p1"},
  "focus": [{"reference": "#med"}],
  "valueQuantity": {"value": 0.40, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
  "referenceRange": [{"low": {"value": 0.350}, "high": {"value": 4.50E+1}}],
  "component": [
    {"code": {"text": "a"}, "valueQuantity": {"value": 105.00}},
    {"code": {"text": "b"}, "valueQuantity": {"value": 1.000000000000000000E-245}},
    {"code": {"text": "c"}, "valueQuantity": {"value": 66.899999999999991}},
    {"code": {"text": "d"}, "valueQuantity": {"value": 1.5e3}},
    {"code": {"text": "e"}, "valueInteger": 2147483647}
  ]
}"""

EXPECTED = [
    "0.10",
    "1.0E0",
    "123456789012345678901234567890.123456789",
    "123456789012345678901234567890",
    "2.5000E-7",
    "-0",
    "0.40",
    "0.350",
    "4.50E+1",
    "105.00",
    "1.000000000000000000E-245",
    "66.899999999999991",
    "1.5e3",
    "2147483647",
]
#: The tokens ``_summary=true`` keeps: value[x] and component (extension, contained, referenceRange are not summary).
SUMMARY = ["0.40", "105.00", "1.000000000000000000E-245", "66.899999999999991", "1.5e3", "2147483647"]


def numbers(raw: bytes) -> list[str]:
    """The number tokens of a JSON text, in order, exactly as written."""
    return [m.group(1).decode() for m in _TOKEN.finditer(raw) if m.group(1)]


def contains_run(tokens: list[str], run: list[str]) -> bool:
    return any(tokens[i : i + len(run)] == run for i in range(len(tokens) - len(run) + 1))


def send(client: FlaskClient, method: str, url: str, body: bytes | str, **headers: str) -> TestResponse:
    data = body.encode() if isinstance(body, str) else body
    response = client.open(url, method=method, data=data, headers={"Content-Type": FHIR_JSON, **headers})
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response


@pytest.fixture
def stored(client: FlaskClient) -> TestResponse:
    send(client, "PUT", "/fhir/Patient/p1", PATIENT)
    return send(client, "PUT", "/fhir/Observation/exact", OBSERVATION)


def test_the_request_corpus_has_the_expected_tokens() -> None:
    assert numbers(OBSERVATION.encode()) == EXPECTED


def test_create_response_and_stored_bytes_keep_every_decimal(client: FlaskClient, engine: Engine) -> None:
    send(client, "PUT", "/fhir/Patient/p1", PATIENT)
    response = send(client, "POST", "/fhir/Observation", OBSERVATION)
    assert numbers(response.data) == EXPECTED
    assert b'"valueQuantity":{"value":0.40,' in response.data
    with engine.connect() as connection:
        content = connection.execute(text("SELECT content FROM resource WHERE resource_type = 'Observation'")).scalar()
    assert numbers(bytes(content)) == EXPECTED


def test_update_response_read_and_vread(client: FlaskClient, stored: TestResponse) -> None:
    assert numbers(stored.data) == EXPECTED
    read = client.get("/fhir/Observation/exact")
    assert numbers(read.data) == EXPECTED
    assert b'"value":1.000000000000000000E-245' in read.data and b'"value":66.899999999999991' in read.data
    assert numbers(client.get("/fhir/Observation/exact/_history/1").data) == EXPECTED


def test_history_bundles(client: FlaskClient, stored: TestResponse) -> None:
    amended = OBSERVATION.replace('"status": "final"', '"status": "amended"')
    assert numbers(send(client, "PUT", "/fhir/Observation/exact", amended).data) == EXPECTED
    for url in ("/fhir/Observation/exact/_history", "/fhir/Observation/_history"):
        tokens = numbers(client.get(url).data)
        assert contains_run(tokens, EXPECTED + EXPECTED), url  # both versions, newest first


def test_search_bundle_summary_elements_and_pretty(client: FlaskClient, stored: TestResponse) -> None:
    assert contains_run(numbers(client.get("/fhir/Observation?code=2345-7").data), EXPECTED)
    pretty = client.get("/fhir/Observation/exact?_pretty=true").data
    assert numbers(pretty) == EXPECTED and b'"value": 0.40,' in pretty
    assert numbers(client.get("/fhir/Observation/exact?_summary=true").data) == SUMMARY
    assert numbers(client.get("/fhir/Observation/exact?_elements=referenceRange,extension").data) == [
        "123456789012345678901234567890.123456789",
        "123456789012345678901234567890",
        "2.5000E-7",
        "-0",
        "0.350",
        "4.50E+1",
    ]
    assert contains_run(numbers(client.get("/fhir/Observation?code=2345-7&_summary=true").data), SUMMARY)
    assert contains_run(
        numbers(client.get("/fhir/Observation?code=2345-7&_elements=component&_pretty=true").data), SUMMARY[1:]
    )


def test_transaction_with_return_representation(client: FlaskClient) -> None:
    observation = OBSERVATION.replace('"id": "exact"', '"id": "in-tx"')
    bundle = (
        '{"resourceType": "Bundle", "type": "transaction", "entry": ['
        f'{{"resource": {PATIENT.decode()}, "request": {{"method": "PUT", "url": "Patient/p1"}}}},'
        f'{{"resource": {observation}, "request": {{"method": "PUT", "url": "Observation/in-tx"}}}}]}}'
    )
    response = send(client, "POST", "/fhir", bundle, Prefer="return=representation")
    assert contains_run(numbers(response.data), EXPECTED)
    assert numbers(client.get("/fhir/Observation/in-tx").data) == EXPECTED


def test_patient_everything(client: FlaskClient, stored: TestResponse) -> None:
    assert contains_run(numbers(client.get("/fhir/Patient/p1/$everything").data), EXPECTED)


def test_json_patch_values_keep_their_digits(client: FlaskClient, stored: TestResponse) -> None:
    patch = b'[{"op": "replace", "path": "/valueQuantity/value", "value": 0.50}, {"op": "add", "path": "/component/0/valueQuantity/value", "value": 1.500E2}]'
    response = send(
        client, "PATCH", "/fhir/Observation/exact", patch, **{"Content-Type": "application/json-patch+json"}
    )
    expected = [*EXPECTED]
    expected[expected.index("0.40")] = "0.50"
    expected[expected.index("105.00")] = "1.500E2"
    assert numbers(response.data) == expected
    assert numbers(client.get("/fhir/Observation/exact").data) == expected


def test_transaction_json_patch_entry(client: FlaskClient, stored: TestResponse) -> None:
    patch = base64.b64encode(b'[{"op": "replace", "path": "/valueQuantity/value", "value": 0.400}]').decode()
    bundle = (
        '{"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Binary", '
        f'"contentType": "application/json-patch+json", "data": "{patch}"}}, '
        '"request": {"method": "PATCH", "url": "Observation/exact"}}]}'
    )
    send(client, "POST", "/fhir", bundle)
    read = client.get("/fhir/Observation/exact").data
    assert numbers(read) == [t if t != "0.40" else "0.400" for t in EXPECTED]
    assert b'"code":"mmol/L","value":0.400}' in read


def test_a_change_of_precision_alone_is_a_new_version(client: FlaskClient, stored: TestResponse) -> None:
    less_precise = OBSERVATION.replace('"value": 0.40,', '"value": 0.4,')
    assert send(client, "PUT", "/fhir/Observation/exact", less_precise).headers["ETag"] == 'W/"2"'
    assert b'"valueQuantity":{"value":0.4,' in client.get("/fhir/Observation/exact").data
    assert send(client, "PUT", "/fhir/Observation/exact", OBSERVATION).headers["ETag"] == 'W/"3"'
    assert numbers(client.get("/fhir/Observation/exact").data) == EXPECTED


def test_fhir_server_load_of_ndjson(
    client: FlaskClient, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    ndjson = tmp_path / "exact.ndjson"
    one_line = " ".join(OBSERVATION.split())
    ndjson.write_text(PATIENT.decode() + "\n" + one_line + "\n")
    result = CliRunner().invoke(main, ["load", str(ndjson)])
    assert result.exit_code == 0, result.output
    read = client.get("/fhir/Observation/exact")
    assert numbers(read.data) == EXPECTED
    # Loading the same file again keeps the version; the same values with less precision are a change.
    assert CliRunner().invoke(main, ["load", str(ndjson)]).exit_code == 0
    assert client.get("/fhir/Observation/exact").headers["ETag"] == 'W/"1"'
    ndjson.write_text(one_line.replace('"value": 0.40,', '"value": 0.4,') + "\n")
    assert CliRunner().invoke(main, ["load", str(ndjson)]).exit_code == 0
    read = client.get("/fhir/Observation/exact")
    assert read.headers["ETag"] == 'W/"2"' and b'"valueQuantity":{"value":0.4,' in read.data


def test_a_decimal_too_large_for_a_double_is_refused_clearly(client: FlaskClient) -> None:
    body = (
        '{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": 1.5E400}}'
    )
    response = client.post("/fhir/Observation", data=body, headers={"Content-Type": FHIR_JSON})
    assert response.status_code in (400, 422)
    assert (
        "Value `1.5E400` of `Observation.valueQuantity.value` is out of range for `decimal`: "
        "its magnitude must be below 1.8E308." in response.get_data(as_text=True)
    )


def test_nan_is_not_json(client: FlaskClient) -> None:
    body = b'{"resourceType": "Observation", "valueQuantity": {"value": NaN}}'
    response = client.post("/fhir/Observation", data=body, headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400
    assert "The request body is not valid JSON: `NaN` is not a JSON number: line 1 column 60 (char 59)." in (
        response.get_data(as_text=True)
    )
