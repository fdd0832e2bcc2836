"""``fhir-server auth ...``: clients, users, development tokens, launch contexts and key rotation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result
from flask import Flask
from joserfc.jwk import RSAKey
from joserfc.jws import extract_compact
from sqlalchemy import text

from fhir_server.app import create_app
from fhir_server.auth import keys
from fhir_server.cli import main
from fhir_server.db import make_engine

BASE = "http://fhir.test/fhir"


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    monkeypatch.delenv("FHIR_SERVER_AUTH", raising=False)  # the default: smart
    return database_url


@pytest.fixture
def server(env: str) -> Iterator[Flask]:
    """A server process on the same database, as the CLI's changes must reach it."""
    app = create_app({"database_url": env, "base_url": BASE, "audit_drain_interval": 0})
    yield app
    app.extensions["fhir_server"].engine.dispose()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["auth", *args])


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.output


def refused(*args: str) -> str:
    result = run(*args)
    assert result.exit_code != 0, result.output
    return result.output


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def kid_of(token: str) -> str:
    return str(extract_compact(token.encode()).headers()["kid"])


def test_clients_are_added_listed_and_removed(env: str, tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [RSAKey.generate_key(2048).as_dict(private=False)]}))
    ok("client", "add", "--client-id", "chart", "--public", "--redirect-uri", "https://app.example/cb",
       "--scope", "launch patient/*.rs openid fhirUser")  # fmt: skip
    ok("client", "add", "--client-id", "etl", "--secret", "a shared secret value", "--scope", "system/*.rs")
    ok("client", "add", "--client-id", "lab", "--jwks-file", str(jwks), "--scope", "system/Observation.cs")
    ok("client", "add", "--client-id", "hub", "--jwks-url", "https://hub.example/jwks", "--scope", "system/*.rs")
    listed = {line.split("\t")[0]: line.split("\t") for line in ok("client", "list").splitlines()}
    assert set(listed) == {"chart", "etl", "lab", "hub"}
    assert listed["chart"][2:] == ["launch patient/*.rs openid fhirUser", "https://app.example/cb"]
    assert listed["lab"][2] == "system/Observation.cs"
    # The secret is stored as an argon2 hash, never as given.
    ((stored,),) = rows(env, "SELECT secret_hash FROM auth_client WHERE client_id = 'etl'")
    assert str(stored).startswith("$argon2id$") and "a shared secret value" not in str(stored)

    assert "already" in refused("client", "add", "--client-id", "etl", "--public", "--scope", "system/*.rs")
    assert "nope" in refused("client", "add", "--client-id", "bad", "--public", "--scope", "patient/*.nope")
    assert "Removed client `lab`" in ok("client", "remove", "lab")
    assert "lab" not in ok("client", "list")
    assert "No client `lab`" in refused("client", "remove", "lab")


def test_users_are_added_listed_and_removed(env: str) -> None:
    ok("user", "add", "--username", "alice", "--password", "long enough pw", "--fhir-user", "Practitioner/7")
    ok("user", "add", "--username", "bob", "--password", "another long one")
    assert ok("user", "list").splitlines() == ["alice\tPractitioner/7", "bob\t-"]
    ((stored,),) = rows(env, "SELECT password_hash FROM auth_user WHERE username = 'alice'")
    assert str(stored).startswith("$argon2id$") and "long enough pw" not in str(stored)

    assert "at least 8" in refused("user", "add", "--username", "carol", "--password", "short")
    assert "Type/id" in refused("user", "add", "--username", "dan", "--password", "long enough pw",
                                "--fhir-user", "Organization/1")  # fmt: skip
    assert "already" in refused("user", "add", "--username", "alice", "--password", "long enough pw")
    ok("user", "remove", "bob")
    assert ok("user", "list").splitlines() == ["alice\tPractitioner/7"]
    assert "No user `bob`" in refused("user", "remove", "bob")


def test_a_development_token_is_narrowed_to_the_client_and_works_against_the_server(env: str, server: Flask) -> None:
    ok("client", "add", "--client-id", "etl", "--secret", "a shared secret value", "--scope", "system/Patient.rs")
    token = ok("token", "--client-id", "etl", "--scope", "system/Patient.rs system/Observation.rs",
               "--audience", BASE).strip()  # fmt: skip
    claims = orjson.loads(extract_compact(token.encode()).payload)
    assert claims["scope"] == "system/Patient.rs" and claims["client_id"] == "etl" and claims["aud"] == BASE
    assert claims["exp"] - claims["iat"] == 3600  # the default lifetime
    client = server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/fhir/Patient", headers=headers).status_code == 200
    assert client.get("/fhir/Observation", headers=headers).status_code == 403
    assert "No client `nobody`" in refused("token", "--client-id", "nobody", "--scope", "system/*.rs")
    assert "None of" in refused("token", "--client-id", "etl", "--scope", "system/Encounter.rs")


def test_the_token_lifetime_is_configurable(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_SERVER_TOKEN_LIFETIME", "600")
    ok("client", "add", "--client-id", "etl", "--secret", "a shared secret value", "--scope", "system/*.rs")
    claims = orjson.loads(extract_compact(ok("token", "--client-id", "etl", "--scope", "system/*.rs")
                                          .strip().encode()).payload)  # fmt: skip
    assert claims["exp"] - claims["iat"] == 600


def test_a_launch_context_is_printed_and_stored(env: str) -> None:
    value = ok("launch", "--patient", "p1", "--encounter", "e1").strip()
    assert len(value) >= 20
    assert rows(env, "SELECT patient, encounter FROM auth_launch") == [("p1", "e1")]


def test_rotated_keys_sign_new_tokens_and_old_tokens_keep_verifying(
    env: str, server: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("client", "add", "--client-id", "etl", "--secret", "a shared secret value", "--scope", "system/*.rs")
    mint = server.extensions["fhir_server"].auth.tokens.mint
    before, _ = mint(issuer=BASE, audience=BASE, client_id="etl", subject="etl", scope="system/*.rs")
    new_kid = ok("rotate-keys").split("`")[1]
    assert new_kid != kid_of(before)
    after_cli = ok("token", "--client-id", "etl", "--scope", "system/*.rs", "--audience", BASE).strip()
    assert kid_of(after_cli) == new_kid
    # The running server picks the new key up at its next look (at most KEY_RELOAD_INTERVAL seconds).
    monkeypatch.setattr(keys, "KEY_RELOAD_INTERVAL", 0.0)
    after_server, _ = mint(issuer=BASE, audience=BASE, client_id="etl", subject="etl", scope="system/*.rs")
    assert kid_of(after_server) == new_kid
    client = server.test_client()
    for token in (before, after_cli, after_server):
        assert client.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    published = {key["kid"] for key in client.get("/auth/jwks").get_json()["keys"]}
    assert {kid_of(before), new_kid} <= published


def test_with_auth_off_there_is_nothing_to_configure(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_SERVER_AUTH", "off")
    assert "FHIR_SERVER_AUTH is off" in refused("client", "list")
