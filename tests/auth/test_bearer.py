"""Every FHIR request needs a valid token; discovery does not."""

from __future__ import annotations

from collections.abc import Callable

from auth.conftest import BASE
from flask import Flask
from flask.testing import FlaskClient


def test_no_token_is_401_with_a_bearer_challenge(smart_client: FlaskClient) -> None:
    response = smart_client.get("/fhir/Patient")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="fhir"'
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "login"


def test_discovery_is_public_and_lists_what_is_built(smart_client: FlaskClient) -> None:
    config = smart_client.get("/fhir/.well-known/smart-configuration")
    assert config.status_code == 200
    body = config.get_json()
    assert body["token_endpoint"] == "http://fhir.test/auth/token"
    assert body["authorization_endpoint"] == "http://fhir.test/auth/authorize"
    assert body["response_types_supported"] == ["code"]
    assert body["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert {"launch-ehr", "launch-standalone", "client-public", "context-standalone-patient"} <= set(
        body["capabilities"]
    )
    assert body["jwks_uri"] == "http://fhir.test/auth/jwks"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert "client-confidential-asymmetric" in body["capabilities"]
    assert "private_key_jwt" in body["token_endpoint_auth_methods_supported"]
    statement = smart_client.get("/fhir/metadata").get_json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert uris["token"] == "http://fhir.test/auth/token"
    assert uris["authorize"] == "http://fhir.test/auth/authorize"


def test_malformed_wrongly_signed_and_foreign_tokens_are_refused(
    smart_client: FlaskClient, mint: Callable[..., dict[str, str]]
) -> None:
    good = mint("system/*.rs")["Authorization"]
    for value, reason in [
        ("Bearer not-a-jwt", "malformed"),
        (good[:-6] + "AAAAAA", "signature"),
        (mint("system/*.rs", audience="http://other.example/fhir")["Authorization"], "not valid for this server"),
    ]:
        response = smart_client.get("/fhir/Patient", headers={"Authorization": value})
        assert response.status_code == 401, reason
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="invalid_token"' in challenge and reason in challenge
        assert value.split()[-1] not in response.get_data(as_text=True)  # the token is never echoed


def test_expired_token_is_refused(smart_app: Flask, smart_client: FlaskClient) -> None:
    tokens = smart_app.extensions["fhir_server"].auth.tokens
    tokens.lifetime = -10
    value, _ = tokens.mint(issuer=BASE, audience=BASE, client_id="c", subject="s", scope="system/*.rs")
    response = smart_client.get("/fhir/Patient", headers={"Authorization": f"Bearer {value}"})
    assert response.status_code == 401
    assert "expired" in response.headers["WWW-Authenticate"]


def test_a_valid_token_reads_and_a_missing_scope_is_403(
    smart_client: FlaskClient, mint: Callable[..., dict[str, str]], store: Callable[..., str]
) -> None:
    patient = store({"resourceType": "Patient", "id": "p1"})
    read = smart_client.get(f"/fhir/Patient/{patient}", headers=mint("system/Patient.rs"))
    assert read.status_code == 200
    refused = smart_client.get("/fhir/Observation", headers=mint("system/Patient.rs"))
    assert refused.status_code == 403
    assert "`search` on `Observation`" in refused.get_json()["issue"][0]["diagnostics"]
    write = smart_client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=mint("system/Patient.rs"))
    assert write.status_code == 403
    assert (
        smart_client.post(
            "/fhir/Patient", json={"resourceType": "Patient"}, headers=mint("system/Patient.c")
        ).status_code
        == 201
    )


def test_dicomweb_needs_a_token_that_may_read_imaging_studies(
    smart_client: FlaskClient, mint: Callable[..., dict[str, str]]
) -> None:
    assert smart_client.get("/dicomweb/studies/1.2.3").status_code == 401
    assert smart_client.get("/dicomweb/studies/1.2.3", headers=mint("system/Patient.rs")).status_code == 403
    assert smart_client.get("/dicomweb/studies/1.2.3", headers=mint("system/ImagingStudy.rs")).status_code == 404
