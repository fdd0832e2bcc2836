"""Write-time extraction of search-index values, one rule of R4 search.html at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from conformance.search_parameters import SearchRegistry
from fhir_server.search.extract import extract_index_values
from fhir_server.search.index_values import (
    DateValue,
    IndexValue,
    NumberValue,
    QuantityValue,
    StringValue,
    TokenValue,
)


def values(resource: dict[str, Any], param: str, registry: SearchRegistry | None = None) -> list[IndexValue]:
    return [value for value in extract_index_values(resource, registry) if value.param == param]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def test_human_name_parts_are_folded() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Ångström", "given": ["Zoë", "Ann  Marie"], "prefix": ["Dr."], "text": "Dr. ZOË Ångström"}],
    }
    assert values(patient, "name") == [
        StringValue("name", "angstrom", "Ångström"),
        StringValue("name", "dr.", "Dr."),
        StringValue("name", "zoe", "Zoë"),
        StringValue("name", "ann marie", "Ann  Marie"),
        StringValue("name", "dr. zoe angstrom", "Dr. ZOË Ångström"),
    ]
    assert values(patient, "family") == [StringValue("family", "angstrom", "Ångström")]
    assert [value.exact for value in values(patient, "given")] == ["Zoë", "Ann  Marie"]  # type: ignore[union-attr]


def test_address_parts() -> None:
    patient = {
        "resourceType": "Patient",
        "address": [
            {
                "line": ["1 Main St", "Flat 2"],
                "city": "Springfield",
                "district": "Greene",
                "state": "MO",
                "postalCode": "65801",
                "country": "US",
                "text": "1 Main St, Springfield",
            }
        ],
    }
    assert [value.exact for value in values(patient, "address")] == [  # type: ignore[union-attr]
        "1 Main St",
        "Flat 2",
        "Springfield",
        "Greene",
        "MO",
        "65801",
        "US",
        "1 Main St, Springfield",
    ]
    assert values(patient, "address-city") == [StringValue("address-city", "springfield", "Springfield")]


def test_tokens_of_every_shape() -> None:
    patient = {
        "resourceType": "Patient",
        "active": True,
        "gender": "female",
        "identifier": [
            {
                "system": "urn:mrn",
                "value": "42",
                "type": {"coding": [{"system": "http://v2", "code": "MR"}], "text": "MRN"},
            },
            {"value": "7"},
        ],
        "telecom": [{"system": "phone", "value": "555-1234", "use": "home"}, {"system": "email", "value": "a@b.org"}],
        "communication": [
            {
                "language": {
                    "coding": [{"system": "urn:ietf:bcp:47", "code": "fr", "display": "Français"}],
                    "text": "French",
                }
            }
        ],
    }
    assert values(patient, "active") == [TokenValue("active", None, "true")]
    assert values(patient, "gender") == [TokenValue("gender", None, "female")]
    assert values(patient, "identifier") == [
        TokenValue("identifier", "urn:mrn", "42", "mrn", "http://v2", "MR"),
        TokenValue("identifier", None, "7"),
    ]
    assert values(patient, "phone") == [TokenValue("phone", "home", "555-1234")]
    assert values(patient, "email") == [TokenValue("email", None, "a@b.org")]
    assert values(patient, "language") == [
        TokenValue("language", "urn:ietf:bcp:47", "fr", "francais"),
        TokenValue("language", None, None, "french"),
    ]


def test_date_precision_bounds() -> None:
    def bounds(birth_date: str) -> list[IndexValue]:
        return values({"resourceType": "Patient", "birthDate": birth_date}, "birthdate")

    assert bounds("2020") == [DateValue("birthdate", at(2020, 1, 1), at(2020, 12, 31, 23, 59, 59, 999999))]
    assert bounds("2020-02") == [DateValue("birthdate", at(2020, 2, 1), at(2020, 2, 29, 23, 59, 59, 999999))]
    assert bounds("2021-03-04") == [DateValue("birthdate", at(2021, 3, 4), at(2021, 3, 4, 23, 59, 59, 999999))]
    assert bounds("2021-02-30") == []

    def effective(text: str) -> list[IndexValue]:
        return values({"resourceType": "Observation", "effectiveDateTime": text}, "date")

    assert effective("2020-01-01T10:00:00+02:00") == [
        DateValue("date", at(2020, 1, 1, 8), at(2020, 1, 1, 8, 0, 0, 999999))
    ]
    assert effective("2020-01-01T10:00:00.5Z") == [
        DateValue("date", at(2020, 1, 1, 10, 0, 0, 500000), at(2020, 1, 1, 10, 0, 0, 599999))
    ]
    # No zone: read as UTC.
    assert effective("2020-01-01T10:00") == [DateValue("date", at(2020, 1, 1, 10), at(2020, 1, 1, 10, 0, 59, 999999))]


def test_period_and_timing() -> None:
    observation = {"resourceType": "Observation", "effectivePeriod": {"start": "2020-01-01"}}
    assert values(observation, "date") == [DateValue("date", at(2020, 1, 1), None)]
    observation = {"resourceType": "Observation", "effectivePeriod": {"start": "2020", "end": "2021-06"}}
    assert values(observation, "date") == [DateValue("date", at(2020, 1, 1), at(2021, 6, 30, 23, 59, 59, 999999))]
    request = {
        "resourceType": "ServiceRequest",
        "occurrenceTiming": {"event": ["2020-05-02", "2020-05-01"], "repeat": {"boundsPeriod": {"end": "2020-06"}}},
    }
    assert values(request, "occurrence") == [DateValue("occurrence", None, at(2020, 6, 30, 23, 59, 59, 999999))]
    request["occurrenceTiming"] = {"event": ["2020-05-02", "2020-05-01"]}
    assert values(request, "occurrence") == [
        DateValue("occurrence", at(2020, 5, 1), at(2020, 5, 2, 23, 59, 59, 999999))
    ]


def test_number_precision() -> None:
    def probability(value: Any) -> list[IndexValue]:
        return values({"resourceType": "RiskAssessment", "prediction": [{"probabilityDecimal": value}]}, "probability")

    assert probability(100) == [NumberValue("probability", Decimal(100), Decimal("99.5"), Decimal("100.5"))]
    assert probability(Decimal("1.00")) == [
        NumberValue("probability", Decimal("1.00"), Decimal("0.995"), Decimal("1.005"))
    ]
    # A float keeps only the digits of its shortest repr: 0.25 stays 0.25.
    assert probability(0.25) == [NumberValue("probability", Decimal("0.25"), Decimal("0.245"), Decimal("0.255"))]
    parsed = json.loads(
        '{"resourceType": "RiskAssessment", "prediction": [{"probabilityDecimal": 1.50}]}', parse_float=Decimal
    )
    assert values(parsed, "probability")[0].low == Decimal("1.495")  # type: ignore[union-attr]


def test_quantities() -> None:
    observation = {
        "resourceType": "Observation",
        "valueQuantity": {"value": 72, "unit": "beats/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }
    assert values(observation, "value-quantity") == [
        QuantityValue(
            "value-quantity",
            Decimal(72),
            Decimal("71.5"),
            Decimal("72.5"),
            "http://unitsofmeasure.org",
            "/min",
            "beats/min",
        )
    ]
    invoice = {"resourceType": "Invoice", "totalGross": {"value": 12.5, "currency": "EUR"}}
    assert values(invoice, "totalgross") == [
        QuantityValue(
            "totalgross", Decimal("12.5"), Decimal("12.45"), Decimal("12.55"), "urn:iso:std:iso:4217", "EUR", "EUR"
        )
    ]
    condition = {
        "resourceType": "Condition",
        "onsetAge": {"value": 40, "code": "a", "system": "http://unitsofmeasure.org"},
    }
    assert values(condition, "onset-age") == [
        QuantityValue(
            "onset-age", Decimal(40), Decimal("39.5"), Decimal("40.5"), "http://unitsofmeasure.org", "a", None
        )
    ]
    condition = {"resourceType": "Condition", "onsetRange": {"low": {"value": 10}, "high": {"value": 20}}}
    assert values(condition, "onset-age") == [
        QuantityValue("onset-age", Decimal(10), Decimal(10), Decimal(20), None, None, None)
    ]
    assert values({"resourceType": "Condition", "onsetRange": {"low": {"value": 10}}}, "onset-age") == []
