"""A SearchParameter that fails structural validation is refused with those issues, not a server error."""

from __future__ import annotations

from fhir_factories import outcome_text, post
from flask.testing import FlaskClient


def test_an_invalid_search_parameter_is_refused_with_its_validation_issues(client: FlaskClient) -> None:
    # `status` is required (1..1); the issue must be reported before the custom-parameter checks run.
    invalid = {
        "resourceType": "SearchParameter",
        "url": "http://example.org/SearchParameter/patient-marital-status",
        "name": "MaritalStatus",
        "description": "The patient's marital status.",
        "code": "marital",
        "base": ["Patient"],
        "type": "token",
        "expression": "Patient.maritalStatus",
    }
    response = post(client, invalid)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "status" in outcome_text(response)
