"""Every error is an OperationOutcome with the right status, never HTML or a stack trace."""

from __future__ import annotations

import pytest
from fhir_factories import outcome_text, patient, post
from flask import Flask
from flask.testing import FlaskClient

from fhir_server.repository import SqlRepository


def test_wrong_method_is_405_outcome(client: FlaskClient) -> None:
    response = client.post("/fhir/Patient/123", json={}, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 405
    assert "Allow" in response.headers
    assert response.get_json()["issue"][0]["code"] == "not-supported"


def test_unknown_url_is_404_outcome(client: FlaskClient) -> None:
    response = client.get("/fhir/Patient/1/_history/1/extra")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/fhir+json")


def test_body_over_limit_is_413(database_url: str) -> None:
    from fhir_server.app import create_app

    app = create_app({"database_url": database_url, "max_body_bytes": 2048, "auth": "off"})
    response = post(app.test_client(), patient(name=[{"family": "x" * 5000}]))
    assert response.status_code == 413
    assert "at most 2048" in outcome_text(response)
    app.extensions["fhir_server"].engine.dispose()


def test_unexpected_error_is_500_without_stack_trace(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(SqlRepository, "read", explode)
    response = client.get("/fhir/Patient/1")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert outcome_text(response) == "The server failed to process the request; the error has been logged."
