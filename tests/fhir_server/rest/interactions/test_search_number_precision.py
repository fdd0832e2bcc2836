"""Number and quantity search by precision (http://hl7.org/fhir/R4/search.html#number, #quantity).

The search value stands for the range its digits imply (``0.40`` is [0.395, 0.405),
``100`` is [99.5, 100.5)); so does each stored value, from its digits as written.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fhir_factories import FHIR_JSON
from flask.testing import FlaskClient

from fhir_server.cli import main

#: id -> valueQuantity.value as written in the stored JSON.
VALUES = {
    "v0396": "0.396",
    "v04049": "0.4049",
    "v039": "0.39",
    "v0405": "0.405",
    "v04": "0.4",
    "v0400": "0.400",
    "v994": "99.4",
    "v996": "99.6",
    "v100": "100",
    "v10000": "100.00",
    "v1004": "100.4",
    "v1005": "100.5",
    "v101": "101",
    "vexp": "1.0e2",
}


@pytest.fixture
def observations(client: FlaskClient) -> None:
    for resource_id, value in VALUES.items():
        body = (
            f'{{"resourceType": "Observation", "id": "{resource_id}", "status": "final", "code": {{"text": "x"}}, '
            f'"valueQuantity": {{"value": {value}, "system": "http://unitsofmeasure.org", "code": "mg"}}}}'
        )
        response = client.put(f"/fhir/Observation/{resource_id}", data=body, headers={"Content-Type": FHIR_JSON})
        assert response.status_code == 201, response.get_data(as_text=True)


def ids(client: FlaskClient, query: str) -> list[str]:
    response = client.get(f"/fhir/Observation?{query}&_count=100")
    assert response.status_code == 200, response.get_data(as_text=True)
    return sorted(entry["resource"]["id"] for entry in response.get_json().get("entry", []))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # [0.395, 0.405) holds 0.396, 0.4049 and 0.400, but not 0.39, 0.405 or 0.4 (which stands for [0.35, 0.45]).
        ("value-quantity=0.40", ["v0396", "v0400", "v04049"]),
        ("value-quantity=0.40|http://unitsofmeasure.org|mg", ["v0396", "v0400", "v04049"]),
        ("value-quantity=0.4", ["v039", "v0396", "v04", "v0400", "v04049", "v0405"]),
        # [99.5, 100.5): 99.6, 100, 100.00, 100.4 and 1.0e2 (two digits: [95, 105]) is too wide.
        ("value-quantity=100", ["v10000", "v100", "v1004", "v996"]),
        ("value-quantity=100.00", ["v10000"]),
        ("value-quantity=1e2", ["v100", "v10000", "v1004", "v1005", "v101", "v994", "v996", "vexp"]),
        ("value-quantity=ne100", sorted(set(VALUES) - {"v10000", "v100", "v1004", "v996"})),
        # gt/lt/ge/le compare with the search value exactly ("gt100: greater than exactly 100").
        ("value-quantity=gt100", ["v1004", "v1005", "v101"]),
        ("value-quantity=ge100", ["v100", "v10000", "v1004", "v1005", "v101", "vexp"]),
        ("value-quantity=lt0.4", ["v039", "v0396"]),
        ("value-quantity=le0.4", ["v039", "v0396", "v04", "v0400"]),
        # sa/eb: the stored range lies wholly after/before the search range.
        ("value-quantity=sa100", ["v101"]),  # 100.5 stands for [100.45, 100.55], which starts inside
        ("value-quantity=eb0.40", ["v039"]),
        # ap: within 10% of the value.
        ("value-quantity=ap100", ["v100", "v10000", "v1004", "v1005", "v101", "v994", "v996", "vexp"]),
    ],
)
def test_quantity_search_uses_both_precisions(
    client: FlaskClient, observations: None, query: str, expected: list[str]
) -> None:
    assert ids(client, query) == sorted(expected)


def test_number_parameter_uses_precision(client: FlaskClient) -> None:
    for resource_id, probability in (("r1", "0.350"), ("r2", "0.35"), ("r3", "0.3549")):
        body = (
            f'{{"resourceType": "RiskAssessment", "id": "{resource_id}", "status": "final", '
            f'"subject": {{"reference": "Patient/x"}}, "prediction": [{{"probabilityDecimal": {probability}}}]}}'
        )
        response = client.put(f"/fhir/RiskAssessment/{resource_id}", data=body, headers={"Content-Type": FHIR_JSON})
        assert response.status_code == 201, response.get_data(as_text=True)

    def found(query: str) -> list[str]:
        bundle = client.get(f"/fhir/RiskAssessment?{query}").get_json()
        return sorted(entry["resource"]["id"] for entry in bundle.get("entry", []))

    assert found("probability=0.35") == ["r1", "r2", "r3"]
    assert found("probability=0.350") == ["r1"]
    assert found("probability=gt0.35") == ["r3"]


def test_reindex_keeps_the_written_precision(
    client: FlaskClient, observations: None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["reindex", "Observation"])
    assert result.exit_code == 0, result.output
    assert ids(client, "value-quantity=0.40") == ["v0396", "v0400", "v04049"]
    assert ids(client, "value-quantity=100.00") == ["v10000"]
