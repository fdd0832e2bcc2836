"""FHIR JSON that keeps decimals as written: ``loads``/``dumps``/``decimal``/``identical``."""

from __future__ import annotations

import copy
import pickle

import pytest

from conformance import fhir_json, validate_resource
from conformance.fhir_json import FhirDecimal

#: Number tokens that plain float parsing changes, and integers that must stay exact.
EXACT = [
    "0.40",
    "105.00",
    "1.000000000000000000E-245",
    "66.899999999999991",
    "1.5e3",
    "4.50E+1",
    "2.5000E-7",
    "-0.0010",
    "-0",
    "0.0",
    "123456789012345678901234567890.123456789",
    "123456789012345678901234567890",
    "-98765432109876543210987654321",
    "9223372036854775807",
    "18446744073709551616",
    "1E400",
]


@pytest.mark.parametrize("token", EXACT)
def test_every_number_token_is_written_back_as_read(token: str) -> None:
    raw = f'{{"a":[{token}],"b":{{"c":{token}}}}}'.encode()
    assert fhir_json.dumps(fhir_json.loads(raw)) == raw
    assert (
        fhir_json.dumps(fhir_json.loads(raw), indent=True)
        == f'{{\n  "a": [\n    {token}\n  ],\n  "b": {{\n    "c": {token}\n  }}\n}}'.encode()
    )


def test_a_decimal_is_a_float_that_remembers_its_text() -> None:
    value = fhir_json.loads(b"[0.40]")[0]
    assert isinstance(value, float) and isinstance(value, FhirDecimal)
    assert value == 0.4 and value.text == "0.40" and str(value) == repr(value) == "0.40"
    assert value + 1 == 1.4 and type(value + 1) is float and type(value * 2) is float
    assert f"{value:.3f}" == "0.400"
    assert copy.deepcopy({"v": [value]})["v"][0].text == "0.40"
    assert pickle.loads(pickle.dumps(value)).text == "0.40"


def test_integers_stay_int_and_exact() -> None:
    value = fhir_json.loads(b'{"n": 7, "big": 123456789012345678901234567890}')
    assert type(value["n"]) is int and value["big"] == 123456789012345678901234567890


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}'])
def test_nan_and_infinity_are_not_json(raw: bytes) -> None:
    with pytest.raises(fhir_json.JSONDecodeError, match=r"is not a JSON number: line 1 column 7 \(char 6\)"):
        fhir_json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": 1,}', "Expecting property name enclosed in double quotes: line 1 column 9 (char 8)"),
        (b'{"a": ', "Expecting value: line 1 column 7 (char 6)"),
        (b'{"a": "\xff"}', "not valid UTF-8 (invalid start byte): line 1 column 8 (char 7)"),
        (b'{"a": "\\ud800"}', "no low surrogate in string: line 1 column 8 (char 7)"),
        (b'{"a": 01.5}', "Expecting ',' delimiter: line 1 column 8 (char 7)"),
    ],
)
def test_errors_say_what_and_where(raw: bytes, message: str) -> None:
    with pytest.raises(fhir_json.JSONDecodeError) as caught:
        fhir_json.loads(raw)
    assert message in str(caught.value)


def test_a_surrogate_pair_is_fine() -> None:
    assert fhir_json.loads(b'["\\ud83d\\ude00"]') == ["\U0001f600"]


def test_plain_floats_from_server_code_are_written_as_orjson_does() -> None:
    assert fhir_json.dumps({"p": 0.1 + 0.2, "q": 1.0}) == b'{"p":0.30000000000000004,"q":1.0}'


@pytest.mark.parametrize(
    ("text", "json_text"),
    [("0.40", "0.40"), ("+05.10", "5.10"), (" 7 ", "7"), ("5.", "5"), ("-.5", "-0.5"), ("1.5E+02", "1.5E+02")],
)
def test_decimal_keeps_source_digits(text: str, json_text: str) -> None:
    assert fhir_json.dumps([fhir_json.decimal(text)]) == f"[{json_text}]".encode()


@pytest.mark.parametrize("text", ["", "-", "abc", "1e", "1,5", "1_000", "NaN", "Infinity"])
def test_decimal_refuses_what_is_not_a_number(text: str) -> None:
    with pytest.raises(ValueError, match="is not a decimal number"):
        fhir_json.decimal(text)


def test_identical_tells_precision_apart() -> None:
    loads = fhir_json.loads
    assert not fhir_json.identical(loads(b'{"v": 0.40}'), loads(b'{"v": 0.4}'))
    assert not fhir_json.identical(loads(b'{"v": 1}'), loads(b'{"v": 1.0}'))
    assert fhir_json.identical(loads(b'{"v": [0.40], "w": 1}'), loads(b'{"w": 1, "v": [0.40]}'))
    assert fhir_json.identical({"v": 0.1 + 0.2}, loads(fhir_json.dumps({"v": 0.1 + 0.2})))
    assert not fhir_json.identical({"v": True}, {"v": 1})


def observation(value: str) -> dict[str, object]:
    raw = f'{{"resourceType": "Observation", "status": "final", "code": {{"text": "x"}}, "valueQuantity": {{"value": {value}}}}}'
    resource: dict[str, object] = fhir_json.loads(raw)
    return resource


@pytest.mark.parametrize("value", ["0.40", "1.000000000000000000E-245", "123456789012345678901234567890", "-0"])
def test_exact_decimals_are_valid(value: str) -> None:
    assert validate_resource(observation(value)) == []


def test_a_decimal_beyond_double_range_is_a_clear_error() -> None:
    [issue] = validate_resource(observation("1.5E400"))
    assert (issue.severity, issue.code, issue.expression) == ("error", "value", "Observation.valueQuantity.value")
    assert issue.diagnostics == (
        "Value `1.5E400` of `Observation.valueQuantity.value` is out of range for `decimal`: "
        "its magnitude must be below 1.8E308."
    )


def test_negative_zero_is_an_integer_too() -> None:
    resource = fhir_json.loads(b'{"resourceType": "Patient", "multipleBirthInteger": -0}')
    assert validate_resource(resource) == []
    assert fhir_json.dumps(resource) == b'{"resourceType":"Patient","multipleBirthInteger":-0}'
