"""SMART Backend Services: client_credentials with a private_key_jwt assertion, then revocation."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from fhir_server.auth.clients import ClientSpec, add_client
from fhir_server.db import unit_of_work

TOKEN_URL = "http://fhir.test/auth/token"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(params=["RS384", "ES384"])
def backend(request: pytest.FixtureRequest, smart_app: Flask) -> Callable[..., str]:
    """A registered backend client; calling it returns a fresh client assertion."""
    alg = request.param
    key = (
        RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
        if alg == "RS384"
        else ECKey.generate_key("P-384", parameters={"kid": "k1"}, private=True)
    )
    jwks = json.dumps({"keys": [key.as_dict(private=False)]})
    with unit_of_work(smart_app.extensions["fhir_server"].sessions) as session:
        add_client(session, ClientSpec("bulk-job", "system/*.rs system/Observation.cruds", jwks=jwks))

    def assertion(**overrides: Any) -> str:
        claims = {
            "iss": "bulk-job",
            "sub": "bulk-job",
            "aud": TOKEN_URL,
            "exp": int(time.time()) + 240,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return jwt.encode({"alg": alg, "kid": "k1", "typ": "JWT"}, claims, key, algorithms=[alg])

    return assertion


def token_request(client: FlaskClient, assertion: str, scope: str = "system/*.rs") -> Any:
    form = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION,
        "client_assertion": assertion,
    }
    return client.post("/auth/token", data=form)


def test_assertion_gets_a_token_that_reads_and_is_narrowed(
    smart_client: FlaskClient, backend: Callable[..., str], store: Callable[..., str]
) -> None:
    store({"resourceType": "Patient", "id": "p"})
    response = token_request(smart_client, backend(), "system/*.cruds launch/patient")
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert set(body["scope"].split()) <= {"system/*.rs", "system/Observation.cruds"}
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert smart_client.get("/fhir/Patient/p", headers=headers).status_code == 200


def test_granted_scope_is_what_the_client_may_have(smart_client: FlaskClient, backend: Callable[..., str]) -> None:
    body = token_request(smart_client, backend(), "system/Patient.rs system/Observation.c system/Patient.c").get_json()
    assert body["scope"] == "system/Patient.rs system/Observation.c"
    refused = token_request(smart_client, backend(), "system/Patient.d")
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_scope"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "http://fhir.test/other"}, "aud"),
        ({"exp": int(time.time()) + 3600}, "five minutes"),
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"sub": "someone-else"}, "sub"),
        ({"iss": "unknown-client", "sub": "unknown-client"}, "not a client registered"),
    ],
)
def test_bad_assertions_are_invalid_client(
    smart_client: FlaskClient, backend: Callable[..., str], overrides: dict[str, Any], reason: str
) -> None:
    response = token_request(smart_client, backend(**overrides))
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"] == "invalid_client"
    assert reason in body["error_description"]


def test_a_replayed_assertion_is_refused(smart_client: FlaskClient, backend: Callable[..., str]) -> None:
    assertion = backend()
    assert token_request(smart_client, assertion).status_code == 200
    replay = token_request(smart_client, assertion)
    assert replay.status_code == 401
    assert "replay" in replay.get_json()["error_description"]


def test_introspection_and_revocation_take_effect_at_once(
    smart_client: FlaskClient, backend: Callable[..., str], smart_app: Flask
) -> None:
    access = token_request(smart_client, backend()).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    assert smart_client.get("/fhir/Patient", headers=headers).status_code == 200
    auth = {"client_assertion_type": ASSERTION}
    info = smart_client.post(
        "/auth/introspect", data={**auth, "client_assertion": backend(), "token": access}
    ).get_json()
    assert info["active"] is True and info["client_id"] == "bulk-job" and info["scope"] == "system/*.rs"
    assert (
        smart_client.post("/auth/revoke", data={**auth, "client_assertion": backend(), "token": access}).status_code
        == 200
    )
    refused = smart_client.get("/fhir/Patient", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.headers["WWW-Authenticate"]
    # A second server process (another app on the same database) refuses it too.
    from fhir_server.app import create_app

    other = create_app(
        {
            "database_url": smart_app.extensions["fhir_server"].settings.database_url,
            "base_url": "http://fhir.test/fhir",
            "audit_drain_interval": 0,
        }
    )
    try:
        assert other.test_client().get("/fhir/Patient", headers=headers).status_code == 401
    finally:
        other.extensions["fhir_server"].engine.dispose()
    info = smart_client.post(
        "/auth/introspect", data={**auth, "client_assertion": backend(), "token": access}
    ).get_json()
    assert info == {"active": False}


def test_jwks_publishes_public_keys_only(smart_client: FlaskClient, mint: Callable[..., dict[str, str]]) -> None:
    mint("system/*.rs")
    keys = smart_client.get("/auth/jwks").get_json()["keys"]
    assert keys and all("d" not in k and k["alg"] == "RS384" for k in keys)


def test_a_secret_client_authenticates_with_basic(smart_app: Flask, smart_client: FlaskClient) -> None:
    with unit_of_work(smart_app.extensions["fhir_server"].sessions) as session:
        add_client(session, ClientSpec("etl", "system/Patient.rs", secret="s3cret-value"))
    form = {"grant_type": "client_credentials", "scope": "system/Patient.rs"}
    assert smart_client.post("/auth/token", data=form, auth=("etl", "s3cret-value")).status_code == 200
    wrong = smart_client.post("/auth/token", data=form, auth=("etl", "wrong"))
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
