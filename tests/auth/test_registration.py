"""Dynamic client registration (RFC 7591) against the running server over HTTP, on SQLite and PostgreSQL.

An administrator issues an initial access token with ``fhir-server auth registration-token``;
apps register with it at ``POST /auth/register`` and then use the real flows: a public
app runs the authorization-code flow with PKCE (Authlib's OAuth2Session, the HTML pages
walked like a browser), a backend service gets a ``client_credentials`` token with an
ES384 client assertion and calls the FHIR API.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from auth.live import (
    CLI,
    LiveServer,
    backend_session,
    check_patient_writing_backend,
    check_user_patient_reader,
    code_flow,
    serve,
    server_env,
)
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import text

from fhir_server.db import make_engine

CALLBACK = "http://127.0.0.1:9/callback"


@dataclass(frozen=True)
class Live(LiveServer):
    @property
    def register_url(self) -> str:
        return f"{self.base}/auth/register"

    def initial_token(self, *args: str) -> str:
        return self.cli("auth", "registration-token", *args).stdout.strip()

    def register(self, token: str | None, metadata: dict[str, Any]) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.register_url, json=metadata, headers=headers, timeout=10)

    def rows(self, sql: str) -> list[Any]:
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(sql)))
        finally:
            engine.dispose()


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    """``fhir-server serve`` (authorization at its default, SMART) on the emptied, migrated test database."""
    with serve(database_url) as server:
        yield Live(server.base, server.env, server.database_url)


def test_discovery_names_the_registration_endpoint(live: Live) -> None:
    config = requests.get(f"{live.base}/fhir/.well-known/smart-configuration", timeout=5).json()
    assert config["registration_endpoint"] == live.register_url
    statement = requests.get(f"{live.base}/fhir/metadata", timeout=5).json()
    (oauth_uris,) = statement["rest"][0]["security"]["extension"]
    assert {"url": "register", "valueUri": live.register_url} in oauth_uris["extension"]


def test_registration_needs_a_valid_initial_access_token(live: Live) -> None:
    metadata = {"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none", "scope": "user/*.rs"}
    missing = live.register(None, metadata)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="auth"'  # RFC 6750 3.1: no error without a token
    assert "registration-token" in missing.json()["error_description"]
    assert missing.headers["Cache-Control"] == "no-store"
    wrong = live.register("not-a-token", metadata)
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert wrong.json()["error"] == "invalid_token"
    basic = requests.post(live.register_url, json=metadata, auth=("someone", "secret"), timeout=10)
    assert basic.status_code == 401
    expiring = live.initial_token("--expires-in", "1")
    time.sleep(1.5)
    expired = live.register(expiring, metadata)
    assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert live.cli("auth", "client", "list").stdout == ""
    # Only the SHA-256 of a token is stored.
    assert [row.token_hash for row in live.rows("SELECT token_hash FROM auth_registration_token")] == [
        hashlib.sha256(expiring.encode()).hexdigest()
    ]


def test_a_public_client_registers_and_runs_the_code_flow_with_pkce(live: Live) -> None:
    token = live.initial_token()  # the default ceiling: apps that read for a user or a patient
    metadata = {
        "client_name": "Growth chart",
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "user/Patient.rs openid fhirUser offline_access",
    }
    # logo_uri is unknown to this server: ignored (RFC 7591 section 2).
    response = live.register(token, {**metadata, "logo_uri": "https://app.example/logo.png"})
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    registered = response.json()
    client_id = registered["client_id"]
    assert "client_secret" not in registered and "client_secret_expires_at" not in registered
    assert abs(registered["client_id_issued_at"] - time.time()) < 60
    assert {k: v for k, v in registered.items() if k not in ("client_id", "client_id_issued_at")} == metadata
    # One client store: the CLI lists the dynamically registered client like any other.
    listed = live.cli("auth", "client", "list").stdout.splitlines()
    assert listed == [f"{client_id}\tnone\tuser/Patient.rs openid fhirUser offline_access\t{CALLBACK}"]

    live.cli(
        "auth", "user", "add", "--username", "bob", "--password", "long enough pw", "--fhir-user", "Practitioner/7"
    )
    app, tokens = code_flow(
        live,
        client_id,
        "user/Patient.rs openid fhirUser offline_access",
        username="bob",
        password="long enough pw",
        redirect_uri=CALLBACK,
    )
    check_user_patient_reader(live, app, tokens)
    # A public client cannot use client_credentials (it registered no such grant, and has no credentials).
    refused = requests.post(
        live.smart_configuration()["token_endpoint"],
        data={"grant_type": "client_credentials", "client_id": client_id},
        timeout=10,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"


def test_a_private_key_jwt_backend_registers_and_gets_a_client_credentials_token(live: Live) -> None:
    token = live.initial_token("--scope", "system/Patient.rs system/Patient.c system/Observation.rs")
    key = ECKey.generate_key("P-384", parameters={"kid": "lab-es384"}, private=True)
    response = live.register(
        token,
        {
            "client_name": "Lab export",
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"],
            "jwks": {"keys": [key.as_dict(private=False)]},
            "scope": "system/Patient.rs system/Patient.c",
        },
    )
    assert response.status_code == 201, response.text
    registered = response.json()
    client_id = registered["client_id"]
    assert "client_secret" not in registered and "redirect_uris" not in registered
    assert registered["token_endpoint_auth_method"] == "private_key_jwt"
    assert (registered["grant_types"], registered["response_types"]) == (["client_credentials"], [])
    assert [k["kid"] for k in registered["jwks"]["keys"]] == ["lab-es384"]
    assert "d" not in registered["jwks"]["keys"][0]

    token_url = live.smart_configuration()["token_endpoint"]
    scope = "system/Patient.rs system/Patient.c system/Observation.rs"
    # The key as an ECKey: Authlib reads a dict as an RSA key.
    session = backend_session(live, client_id, key, kid="lab-es384", alg="ES384", scope=scope)
    # The client gets what it registered, not the rest of the initial token's ceiling.
    check_patient_writing_backend(live, session, "Registered")
    assert client_id in live.cli("auth", "client", "list").stdout
    # An assertion signed by another key is refused.
    other = ECKey.generate_key("P-384", parameters={"kid": "lab-es384"}, private=True)
    impostor = backend_session(live, client_id, other, kid="lab-es384", alg="ES384", scope="system/Patient.rs")
    with pytest.raises(Exception, match="invalid_client"):
        impostor.fetch_token(token_url, grant_type="client_credentials")


def test_a_secret_client_gets_its_secret_once_and_the_store_keeps_a_hash(live: Live) -> None:
    token = live.initial_token()
    response = live.register(
        token,
        {"redirect_uris": ["https://ehr-app.example/cb"], "token_endpoint_auth_method": "client_secret_post"},
    )
    assert response.status_code == 201, response.text
    registered = response.json()
    assert registered["client_secret_expires_at"] == 0
    assert registered["token_endpoint_auth_method"] == "client_secret_post"
    # No scope asked: the initial token's ceiling, less what the registered grant types never use.
    assert registered["scope"] == "launch launch/patient openid fhirUser patient/*.rs user/*.rs"
    client_id, secret = registered["client_id"], registered["client_secret"]
    (row,) = live.rows(f"SELECT secret_hash FROM auth_client WHERE client_id = '{client_id}'")
    assert row.secret_hash.startswith("$argon2id$") and secret not in row.secret_hash
    introspect = f"{live.base}/auth/introspect"
    posted = requests.post(introspect, data={"token": "x", "client_id": client_id, "client_secret": secret}, timeout=10)
    assert posted.status_code == 200 and posted.json() == {"active": False}
    wrong = requests.post(introspect, data={"token": "x", "client_id": client_id, "client_secret": "guess"}, timeout=10)
    assert wrong.status_code == 401


KEY = ECKey.generate_key("P-384", private=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", SecurityWarning)  # a weak key on purpose
    WEAK_RSA = RSAKey.generate_key(1024).as_dict(private=False)
JWKS = {"keys": [KEY.as_dict(private=False)]}
BACKEND = {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"], "jwks": JWKS}
APP = {"token_endpoint_auth_method": "none", "redirect_uris": [CALLBACK]}

#: (metadata, error, the field the description must start with)
INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({**APP, "redirect_uris": ["http://app.example/callback"]}, "invalid_redirect_uri", "redirect_uris"),
    ({**APP, "redirect_uris": ["http://localhost:8000/cb"]}, "invalid_redirect_uri", "redirect_uris"),
    ({**APP, "redirect_uris": ["https://app.example/cb#frag"]}, "invalid_redirect_uri", "redirect_uris"),
    ({**APP, "redirect_uris": ["https://app.example/a b"]}, "invalid_redirect_uri", "redirect_uris"),
    ({**APP, "redirect_uris": ["com.example.app:/cb"]}, "invalid_redirect_uri", "redirect_uris"),
    ({**APP, "redirect_uris": "https://app.example/cb"}, "invalid_redirect_uri", "redirect_uris"),
    ({"token_endpoint_auth_method": "none"}, "invalid_redirect_uri", "redirect_uris"),
    ({**APP, "token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata", "token_endpoint_auth_method"),
    ({**APP, "grant_types": ["client_credentials"]}, "invalid_client_metadata", "grant_types"),
    ({**BACKEND, "token_endpoint_auth_method": "client_secret_basic"}, "invalid_client_metadata", "grant_types"),
    ({**APP, "grant_types": ["implicit"]}, "invalid_client_metadata", "grant_types"),
    ({**APP, "grant_types": ["refresh_token"]}, "invalid_client_metadata", "grant_types"),
    ({**APP, "response_types": ["token"]}, "invalid_client_metadata", "response_types"),
    ({**APP, "scope": "user/*.cruds"}, "invalid_client_metadata", "scope"),
    ({**BACKEND, "scope": "system/*.rs"}, "invalid_client_metadata", "scope"),
    ({**APP, "scope": "patient/*.bogus"}, "invalid_client_metadata", "scope"),
    ({**APP, "scope": "system/Patient.rs"}, "invalid_client_metadata", "scope"),
    ({**APP, "scope": "user/*.rs offline_access"}, "invalid_client_metadata", "scope"),
    ({**APP, "jwks": JWKS}, "invalid_client_metadata", "jwks"),
    ({**BACKEND, "jwks": None}, "invalid_client_metadata", "jwks"),
    ({**BACKEND, "jwks": {"keys": [KEY.as_dict(private=True)]}}, "invalid_client_metadata", "jwks"),
    ({**BACKEND, "jwks": {"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}}, "invalid_client_metadata", "jwks"),
    ({**BACKEND, "jwks": {"keys": [WEAK_RSA]}}, "invalid_client_metadata", "jwks"),
    ({**BACKEND, "jwks": None, "jwks_uri": "http://keys.example/jwks"}, "invalid_client_metadata", "jwks_uri"),
    ({**BACKEND, "jwks": None, "jwks_uri": "https://169.254.169.254/jwks"}, "invalid_client_metadata", "jwks_uri"),
    ({**APP, "client_name": 7}, "invalid_client_metadata", "client_name"),
]  # fmt: skip


def test_invalid_metadata_is_refused_with_the_rfc_7591_error_naming_the_field(live: Live) -> None:
    token = live.initial_token("--scope", "user/*.rs openid system/Patient.rs")
    for metadata, error, field in INVALID:
        body = {k: v for k, v in metadata.items() if v is not None}
        response = live.register(token, body)
        assert response.status_code == 400, (body, response.text)
        refusal = response.json()
        assert refusal["error"] == error, (body, refusal)
        assert refusal["error_description"].startswith(f"`{field}`"), (body, refusal)
    not_json = requests.post(
        live.register_url, data="redirect_uris=x", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_client_metadata"
    # Nothing was registered; a valid request with the same token still is.
    assert live.cli("auth", "client", "list").stdout == ""
    assert live.register(token, {**APP, "scope": "user/Patient.rs"}).status_code == 201


def test_registration_token_cli_refuses_a_malformed_ceiling(database_url: str) -> None:
    env = server_env(database_url)
    for args, complaint in ((["--scope", "patient/*.nope"], "patient/*.nope"), (["--expires-in", "0"], "expires-in")):
        done = subprocess.run(
            [*CLI, "auth", "registration-token", *args], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode != 0 and complaint in done.stderr, done.stderr
    live = Live("", env, database_url)
    assert live.rows("SELECT token_hash FROM auth_registration_token") == []
    printed = live.cli("auth", "registration-token", "--scope", "system/*.rs", "--expires-in", "60")
    assert "system/*.rs" in printed.stderr and printed.stdout.strip() not in printed.stderr
    (row,) = live.rows("SELECT token_hash, scope FROM auth_registration_token")
    assert (row.token_hash, row.scope) == (hashlib.sha256(printed.stdout.strip().encode()).hexdigest(), "system/*.rs")
