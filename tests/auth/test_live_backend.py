"""A backend service with a real OAuth2 client library (Authlib) against the running server over HTTP.

The server runs as ``fhir-server serve`` with authorization at its default (SMART);
the client is registered with the CLI, as an integration engineer would do it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import RSAKey

CLI = [sys.executable, "-m", "fhir_server.cli"]


class SmartPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's private_key_jwt with SMART's limit: assertions expire within five minutes.

    Authlib signs assertions valid for an hour by default, which SMART Backend
    Services forbids (and this server refuses, see test_backend_services).
    """

    def sign(self, auth: object, token_endpoint: str) -> bytes:
        self.claims = {"exp": int(time.time()) + 240}  # a fresh dict each time: Authlib adds the jti to it
        return super().sign(auth, token_endpoint)  # type: ignore[no-any-return]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite3'}"}
    env.pop("FHIR_SERVER_AUTH", None)  # the default: SMART
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/fhir/metadata", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
                assert time.monotonic() < deadline, "server did not start in 30 s"
                time.sleep(0.2)
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()


def test_authlib_backend_client_gets_a_token_reads_and_revokes(
    live_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = live_server
    key = RSAKey.generate_key(2048, parameters={"kid": "lab-1"}, private=True)
    jwks_file = tmp_path / "lab.jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    registered = subprocess.run(
        [*CLI, "auth", "client", "add", "--client-id", "lab-export", "--jwks-file", str(jwks_file), "--scope", "system/*.rs system/Patient.c"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr

    config = requests.get(f"{base}/fhir/.well-known/smart-configuration", timeout=5).json()
    token_url = config["token_endpoint"]
    assert token_url == f"{base}/auth/token"
    session = OAuth2Session(
        client_id="lab-export",
        client_secret=key.as_dict(private=True),
        token_endpoint_auth_method=SmartPrivateKeyJWT(token_url, headers={"kid": "lab-1"}, alg="RS384"),
        revocation_endpoint_auth_method=SmartPrivateKeyJWT(token_url, headers={"kid": "lab-1"}, alg="RS384"),
        scope="system/Patient.rs system/Patient.c",
    )
    token = session.fetch_token(token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "system/Patient.rs system/Patient.c"

    created = session.post(
        f"{base}/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Live"}]}, timeout=10
    )
    assert created.status_code == 201, created.text
    found = session.get(f"{base}/fhir/Patient?family=Live", timeout=10).json()
    assert found["total"] == 1
    assert session.get(f"{base}/fhir/Observation", timeout=10).status_code == 403

    revoked = session.revoke_token(config["revocation_endpoint"], token["access_token"], token_type_hint="access_token")
    assert revoked.status_code == 200
    after = session.get(f"{base}/fhir/Patient", timeout=10)
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["WWW-Authenticate"]
