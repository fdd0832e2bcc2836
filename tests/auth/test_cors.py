"""Browser SMART apps: CORS for configured origins only, and security headers on every response."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fhir_server.app import create_app
from fhir_server.config import ConfigError, load_settings

APP_ORIGIN = "https://app.example.org"


@pytest.fixture
def cors_client(sqlite_url: str) -> Iterator[FlaskClient]:
    app: Flask = create_app(
        {
            "database_url": sqlite_url,
            "base_url": "http://fhir.test/fhir",
            "auth": "smart",
            "cors_origins": APP_ORIGIN,
            "audit_drain_interval": 0,
        }
    )
    yield app.test_client()
    app.extensions["fhir_server"].engine.dispose()


def test_preflight_from_an_allowed_origin_is_answered_without_a_token(cors_client: FlaskClient) -> None:
    response = cors_client.options(
        "/fhir/Observation",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_responses_to_an_allowed_origin_expose_the_fhir_headers(cors_client: FlaskClient) -> None:
    response = cors_client.get("/fhir/Patient", headers={"Origin": APP_ORIGIN})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "WWW-Authenticate" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]
    token = cors_client.post("/auth/token", data={"grant_type": "password"}, headers={"Origin": APP_ORIGIN})
    assert token.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_other_origins_get_no_cors_headers(cors_client: FlaskClient) -> None:
    response = cors_client.get("/fhir/metadata", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_security_headers_on_every_response(cors_client: FlaskClient) -> None:
    for path in ("/fhir/metadata", "/fhir/Patient", "/auth/jwks", "/nowhere"):
        headers = cors_client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Content-Security-Policy"].startswith("default-src 'none'"), path
        assert headers["Referrer-Policy"] == "no-referrer", path


def test_a_malformed_origin_setting_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"FHIR_SERVER_CORS_ORIGINS: `app\.example\.org` is not an origin"):
        load_settings({"cors_origins": "app.example.org"}, environ={})
