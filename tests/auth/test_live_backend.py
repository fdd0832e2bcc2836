"""A backend service with a real OAuth2 client library (Authlib) against the running server over HTTP.

The server runs as ``fhir-server serve`` with authorization at its default (SMART);
the client is registered with the CLI, as an integration engineer would do it.
"""

from __future__ import annotations

import json
from pathlib import Path

from auth.live import LiveServer, backend_session, check_patient_writing_backend
from joserfc.jwk import RSAKey


def test_authlib_backend_client_gets_a_token_reads_and_revokes(live_server: LiveServer, tmp_path: Path) -> None:
    base = live_server.base
    key = RSAKey.generate_key(2048, parameters={"kid": "lab-1"}, private=True)
    jwks_file = tmp_path / "lab.jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    live_server.cli(
        "auth", "client", "add", "--client-id", "lab-export", "--jwks-file", str(jwks_file),
        "--scope", "system/*.rs system/Patient.c",
    )  # fmt: skip

    config = live_server.smart_configuration()
    token_url = config["token_endpoint"]
    assert token_url == f"{base}/auth/token"
    session = backend_session(
        live_server, "lab-export", key.as_dict(private=True), kid="lab-1", alg="RS384",
        scope="system/Patient.rs system/Patient.c",
    )  # fmt: skip
    token = check_patient_writing_backend(live_server, session, "Live")

    revoked = session.revoke_token(config["revocation_endpoint"], token["access_token"], token_type_hint="access_token")
    assert revoked.status_code == 200
    after = session.get(f"{base}/fhir/Patient", timeout=10)
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["WWW-Authenticate"]
