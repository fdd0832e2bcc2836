"""Client authentication at the token, introspection and revocation endpoints.

- ``private_key_jwt`` (SMART Backend Services, RFC 7523): a client assertion signed
  with RS384 or ES384 by a key of the client's registered JWKS, ``iss`` = ``sub`` =
  client id, ``aud`` = the token URL, ``exp`` at most five minutes ahead, and a
  ``jti`` never seen before (replays are refused);
- ``client_secret_basic`` / ``client_secret_post``: the registered secret;
- ``none``: a public client names itself with ``client_id`` only.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fhir_server.auth.clients import find_client, verify_secret
from fhir_server.auth.keys import ALGORITHMS
from models import AuthAssertionJti, AuthClient

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The longest a client assertion may be valid for (SMART Backend Services).
MAX_ASSERTION_LIFETIME = 300


class OAuthError(Exception):
    """An OAuth2 error response (RFC 6749 section 5.2)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def authenticate_client(
    session: Session, form: dict[str, str], authorization: str | None, token_url: str
) -> tuple[AuthClient, str]:
    """The authenticated client and the method it used; :raises OAuthError: ``invalid_client`` otherwise."""
    if form.get("client_assertion_type") or form.get("client_assertion"):
        return _by_assertion(session, form, token_url), "private_key_jwt"
    if authorization and authorization.lower().startswith("basic "):
        client_id, secret = _basic(authorization)
        return _by_secret(session, client_id, secret), "client_secret_basic"
    client_id = form.get("client_id", "")
    if "client_secret" in form:
        return _by_secret(session, client_id, form["client_secret"]), "client_secret_post"
    client = find_client(session, client_id) if client_id else None
    if client is None:
        raise OAuthError("invalid_client", "The client is not registered or did not authenticate.", 401)
    if client.auth_method != "none":
        raise OAuthError("invalid_client", f"Client `{client_id}` is confidential and must authenticate.", 401)
    return client, "none"


def _basic(header: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "The Basic authorization header is malformed.", 401) from exc
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)


def _by_secret(session: Session, client_id: str, secret: str) -> AuthClient:
    client = find_client(session, client_id)
    if client is None or client.auth_method != "client_secret_basic" or not verify_secret(client.secret_hash, secret):
        raise OAuthError("invalid_client", "Unknown client or wrong client secret.", 401)
    return client


def _by_assertion(session: Session, form: dict[str, str], token_url: str) -> AuthClient:
    if form.get("client_assertion_type") != JWT_BEARER:
        raise OAuthError("invalid_client", f"`client_assertion_type` must be `{JWT_BEARER}`.", 401)
    assertion = form.get("client_assertion", "")
    try:
        unverified = orjson.loads(extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError) as exc:
        raise OAuthError("invalid_client", "The client assertion is not a JWT.", 401) from exc
    client_id = unverified.get("iss") if isinstance(unverified, dict) else None
    client = find_client(session, client_id) if isinstance(client_id, str) else None
    if client is None or client.auth_method != "private_key_jwt":
        raise OAuthError("invalid_client", "The assertion's issuer is not a client registered with a JWKS.", 401)
    try:
        claims = jwt.decode(assertion, _client_keys(client), algorithms=ALGORITHMS).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": client.client_id},
            sub={"essential": True, "value": client.client_id},
            aud={"essential": True, "value": token_url},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(claims)
    except JoseError as exc:
        raise OAuthError(
            "invalid_client", f"The client assertion is not valid: {exc.description or exc}.", 401
        ) from exc
    if int(claims["exp"]) > time.time() + MAX_ASSERTION_LIFETIME:
        raise OAuthError("invalid_client", "The client assertion's `exp` is more than five minutes ahead.", 401)
    _record_jti(session, client.client_id, str(claims["jti"]), int(claims["exp"]))
    return client


def _client_keys(client: AuthClient) -> KeySet:
    if client.jwks:
        return KeySet.import_key_set(json.loads(client.jwks))
    assert client.jwks_url is not None
    try:
        with urllib.request.urlopen(client.jwks_url, timeout=5) as response:
            data: Any = json.load(response)
        return KeySet.import_key_set(data)
    except (OSError, ValueError) as exc:
        raise OAuthError("invalid_client", f"The client's JWKS at `{client.jwks_url}` could not be read.", 401) from exc


def _record_jti(session: Session, client_id: str, jti: str, exp: int) -> None:
    """Refuse a replayed assertion: its ``jti`` is stored until the assertion expires."""
    try:
        with session.begin_nested():
            session.add(
                AuthAssertionJti(
                    jti=f"{client_id}:{jti}"[:255], client_id=client_id, expires=datetime.fromtimestamp(exp, UTC)
                )
            )
    except IntegrityError as exc:
        raise OAuthError("invalid_client", "This client assertion was already used (`jti` replay).", 401) from exc
