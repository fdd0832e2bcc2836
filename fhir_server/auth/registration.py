"""Dynamic client registration (RFC 7591): ``POST /auth/register``, for holders of an initial access token.

Registration is closed by default: a request must carry, as a bearer token, an
*initial access token* (RFC 7591 section 3) that an administrator issued with
``fhir-server auth registration-token``. Only the SHA-256 of a token is stored; a
token registers clients until it expires, and every client registered with it is
granted at most the token's scope ceiling.

A registered client is an ordinary row of the client store
(:mod:`fhir_server.auth.clients`), the same as one added with ``auth client add``.
The store has no grant-type column, so the registered ``grant_types`` are enforced
through what is stored:

- ``authorization_code``: the exact redirect URIs (``https``, or ``http`` on a
  loopback IP address) and the app scopes (``patient/``, ``user/``, ``openid``...);
- ``refresh_token`` (only beside ``authorization_code``): ``offline_access`` and
  ``online_access``, without which no refresh token is issued;
- ``client_credentials`` (only with ``private_key_jwt``, as SMART Backend Services
  requires): the ``system/`` scopes, the only ones that grant gives.

A scope that no registered grant type uses is refused, so a client can never use
a grant it did not register. Errors follow RFC 7591 section 3.2.2
(``invalid_redirect_uri``, ``invalid_client_metadata``), and each description
starts with the field it is about. Unknown metadata fields are ignored (section 2).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Response, jsonify, request
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from fhir_server.auth.clients import ClientSpec, RegistrationError, add_client
from fhir_server.auth.endpoints import _auth, _no_store, _state, blueprint
from fhir_server.auth.scopes import Grant, InvalidScope, narrow, parse_resource_scope
from fhir_server.db import unit_of_work
from models.auth import AuthClient, AuthRegistrationToken

#: Seconds an initial access token registers clients for, unless ``--expires-in`` says otherwise.
INITIAL_TOKEN_LIFETIME = 24 * 3600
#: The scope ceiling of an initial access token issued without ``--scope``: apps that read for a
#: user or a patient. Writes and ``system/`` scopes (backend services) must be allowed explicitly.
DEFAULT_CEILING = "launch launch/patient openid fhirUser offline_access online_access patient/*.rs user/*.rs"
AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
RESPONSE_TYPES = ("code",)
#: Scopes that only matter with a refresh token.
REFRESH_SCOPES = frozenset({"offline_access", "online_access"})
MAX_REDIRECT_URIS = 20
#: As long as ``auth_code.redirect_uri`` and ``auth_client.jwks_url`` hold.
MAX_URI_LENGTH = 2000
MAX_CLIENT_NAME = 200
#: Client assertions are verified with RS384 or ES384: RSA keys of this size at least, EC keys on P-384.
MIN_RSA_BITS = 2048
EC_CURVE = "P-384"
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


# -- initial access tokens ------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issue_initial_token(
    session: Session, scope: str = DEFAULT_CEILING, expires_in: int = INITIAL_TOKEN_LIFETIME
) -> tuple[str, AuthRegistrationToken]:
    """A new initial access token (its value, to hand out once) and its stored row.

    :raises InvalidScope: for a malformed scope; :raises ValueError: for no scope or a lifetime under a second.
    """
    ceiling = " ".join(dict.fromkeys(scope.split()))
    Grant.parse(ceiling)
    if not ceiling:
        raise ValueError("The scope ceiling of an initial access token cannot be empty.")
    if expires_in < 1:
        raise ValueError("An initial access token must expire: give a lifetime of at least one second.")
    value = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = AuthRegistrationToken(
        token_hash=_digest(value), scope=ceiling, created=now, expires=now + timedelta(seconds=expires_in)
    )
    session.add(row)
    session.flush()
    return value, row


def initial_token_ceiling(session: Session, value: str) -> str | None:
    """The scope ceiling of the unexpired initial access token ``value``, else ``None``."""
    row = session.scalars(
        select(AuthRegistrationToken).where(
            AuthRegistrationToken.token_hash == _digest(value), AuthRegistrationToken.expires > datetime.now(UTC)
        )
    ).first()
    return row.scope if row is not None else None


# -- metadata ------------------------------------------------------------------------------


class InvalidMetadata(Exception):
    """A registration request refused with an RFC 7591 section 3.2.2 error."""

    def __init__(self, name: str, description: str, error: str = "invalid_client_metadata") -> None:
        super().__init__(f"`{name}`: {description}")
        self.error, self.field = error, name
        self.description = f"`{name}`: {description}"


def _redirect_error(description: str) -> InvalidMetadata:
    return InvalidMetadata("redirect_uris", description, "invalid_redirect_uri")


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    """Checked client metadata: what a client is registered with."""

    token_endpoint_auth_method: str
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    scope: str
    redirect_uris: tuple[str, ...] = ()
    client_name: str | None = None
    #: The client's public keys as joserfc re-exports them (public members only), for ``private_key_jwt``.
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The registered metadata, as the registration response carries it (RFC 7591 section 3.2.1)."""
        body: dict[str, Any] = {
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "scope": self.scope,
        }
        if self.redirect_uris:
            body["redirect_uris"] = list(self.redirect_uris)
        if self.client_name is not None:
            body["client_name"] = self.client_name
        if self.jwks is not None:
            body["jwks"] = self.jwks
        if self.jwks_uri is not None:
            body["jwks_uri"] = self.jwks_uri
        return body


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidMetadata(name, "must be a non-empty string.")
    return value


def _strings(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        error = "invalid_redirect_uri" if name == "redirect_uris" else "invalid_client_metadata"
        raise InvalidMetadata(name, "must be an array of non-empty strings.", error)
    return list(dict.fromkeys(value))


def check_metadata(body: Any, ceiling: str) -> ClientMetadata:
    """The client metadata of a registration request, checked; the scope is kept within ``ceiling``.

    :raises InvalidMetadata: naming the first field that is wrong.
    """
    if not isinstance(body, dict):
        raise InvalidMetadata("(body)", "the request must be a JSON object of client metadata.")
    # RFC 7591 section 2: client_secret_basic when omitted.
    method = _string(body, "token_endpoint_auth_method") or "client_secret_basic"
    if method not in AUTH_METHODS:
        raise InvalidMetadata("token_endpoint_auth_method", f"`{method}` is not one of {', '.join(AUTH_METHODS)}.")
    grant_types = tuple(_strings(body, "grant_types") or ["authorization_code"])
    for grant_type in grant_types:
        if grant_type not in GRANT_TYPES:
            raise InvalidMetadata("grant_types", f"`{grant_type}` is not one of {', '.join(GRANT_TYPES)}.")
    if "client_credentials" in grant_types and method != "private_key_jwt":
        raise InvalidMetadata(
            "grant_types",
            "client_credentials needs token_endpoint_auth_method `private_key_jwt` (SMART Backend Services), "
            f"not `{method}`.",
        )
    code_flow = "authorization_code" in grant_types
    if "refresh_token" in grant_types and not code_flow:
        raise InvalidMetadata("grant_types", "refresh_token is only issued beside authorization_code.")
    response_types = _response_types(body, code_flow)
    redirect_uris = _redirect_uris(body, code_flow)
    jwks, jwks_uri = _keys(body, method)
    scope = _scope(body, ceiling, grant_types)
    client_name = _string(body, "client_name")
    if client_name is not None and (len(client_name) > MAX_CLIENT_NAME or _has_control(client_name)):
        raise InvalidMetadata("client_name", f"must be at most {MAX_CLIENT_NAME} printable characters.")
    return ClientMetadata(
        token_endpoint_auth_method=method,
        grant_types=grant_types,
        response_types=response_types,
        scope=scope,
        redirect_uris=redirect_uris,
        client_name=client_name,
        jwks=jwks,
        jwks_uri=jwks_uri,
    )


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _response_types(body: dict[str, Any], code_flow: bool) -> tuple[str, ...]:
    given = _strings(body, "response_types")
    if given is None:
        return ("code",) if code_flow else ()
    for response_type in given:
        if response_type not in RESPONSE_TYPES:
            raise InvalidMetadata("response_types", f"`{response_type}` is not supported; only `code` is.")
    if code_flow and "code" not in given:
        raise InvalidMetadata("response_types", "authorization_code needs the response type `code`.")
    if given and not code_flow:
        raise InvalidMetadata("response_types", "`code` needs the grant type authorization_code.")
    return tuple(given)


def _redirect_uris(body: dict[str, Any], code_flow: bool) -> tuple[str, ...]:
    uris = _strings(body, "redirect_uris") or []
    if not code_flow:
        if uris:
            raise _redirect_error("redirect URIs are only for the authorization_code grant.")
        return ()
    if not uris:
        raise _redirect_error("the authorization_code grant needs at least one redirect URI.")
    if len(uris) > MAX_REDIRECT_URIS:
        raise _redirect_error(f"at most {MAX_REDIRECT_URIS} redirect URIs may be registered.")
    for uri in uris:
        problem = _redirect_uri_problem(uri)
        if problem:
            raise _redirect_error(f"`{uri[:200]}` {problem}")
    return tuple(uris)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be registered as an exact redirect URI, or ``None`` when it can."""
    if len(uri) > MAX_URI_LENGTH:
        return f"is longer than {MAX_URI_LENGTH} characters."
    if _WHITESPACE_OR_CONTROL.search(uri):
        return "contains white space or control characters."
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "is not a valid URL."
    if parts.fragment or "#" in uri:
        return "must not have a fragment (RFC 6749 section 3.1.2)."
    if "@" in parts.netloc:
        return "must not carry user information."
    if not parts.hostname:
        return "must be an absolute URL with a host."
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and _loopback(parts.hostname):
        return None  # a native app's loopback redirect (RFC 8252 section 7.3)
    return "must use https, or http on a loopback IP address (127.0.0.1 or [::1]) for a native app."


def _keys(body: dict[str, Any], method: str) -> tuple[dict[str, Any] | None, str | None]:
    """``(jwks, jwks_uri)`` of a ``private_key_jwt`` client (one is ``None``); :raises InvalidMetadata: otherwise."""
    jwks, jwks_uri = body.get("jwks"), _string(body, "jwks_uri")
    if method != "private_key_jwt":
        for name, value in (("jwks", jwks), ("jwks_uri", jwks_uri)):
            if value is not None:
                raise InvalidMetadata(name, "public keys are only for token_endpoint_auth_method `private_key_jwt`.")
        return None, None
    if (jwks is None) == (jwks_uri is None):
        raise InvalidMetadata("jwks", "private_key_jwt needs exactly one of `jwks` and `jwks_uri`.")
    if jwks_uri is not None:
        problem = _jwks_uri_problem(jwks_uri)
        if problem:
            raise InvalidMetadata("jwks_uri", problem)
        return None, jwks_uri
    return _public_key_set(jwks), None


def _jwks_uri_problem(uri: str) -> str | None:
    # The server fetches this URL when the client authenticates: https to a named or public host only.
    if len(uri) > MAX_URI_LENGTH or _WHITESPACE_OR_CONTROL.search(uri):
        return f"must be a URL of at most {MAX_URI_LENGTH} characters without white space."
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "is not a valid URL."
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc or parts.fragment:
        return "must be an https URL with a host and no user information or fragment."
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return None
    if not address.is_global:
        return "must not name a loopback, private or link-local address."
    return None


def _public_key_set(jwks: Any) -> dict[str, Any]:
    """The JWK Set to store: RSA (2048 bits or more) and P-384 EC public keys, public members only."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise InvalidMetadata("jwks", 'must be a JWK Set: {"keys": [ ...public keys... ]}.')
    try:
        imported = KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidMetadata("jwks", f"is not a readable JWK Set ({exc}).") from exc
    for key in imported.keys:
        if key.is_private:
            raise InvalidMetadata("jwks", "must hold public keys only; never send a private key.")
        if isinstance(key, RSAKey):
            if key.raw_value.key_size < MIN_RSA_BITS:
                raise InvalidMetadata("jwks", f"RSA keys must have at least {MIN_RSA_BITS} bits.")
        elif isinstance(key, ECKey):
            if key.curve_name != EC_CURVE:
                raise InvalidMetadata("jwks", f"EC keys must be on {EC_CURVE} (ES384), not {key.curve_name}.")
        else:
            raise InvalidMetadata("jwks", f"`{key.key_type}` keys cannot sign RS384 or ES384 client assertions.")
    return {"keys": [key.as_dict(private=False) for key in imported.keys]}


def _needed_grant(scope: str) -> str:
    """The grant type a scope is used with: system/ scopes by backend services, the rest by apps."""
    if scope in REFRESH_SCOPES:
        return "refresh_token"
    resource = parse_resource_scope(scope)
    if resource is not None and resource.context == "system":
        return "client_credentials"
    return "authorization_code"


def _scope(body: dict[str, Any], ceiling: str, grant_types: tuple[str, ...]) -> str:
    requested = _string(body, "scope")
    if requested is None:
        # RFC 7591 section 2: a default set; here, what the token allows that these grant types use.
        scope = " ".join(s for s in ceiling.split() if _needed_grant(s) in grant_types)
        if not scope:
            raise InvalidMetadata(
                "scope", f"none of the scopes this registration allows (`{ceiling}`) fits the grant types."
            )
        return scope
    names = list(dict.fromkeys(requested.split()))
    try:
        Grant.parse(" ".join(names))
    except InvalidScope as exc:
        raise InvalidMetadata("scope", str(exc)) from exc
    for name in names:
        if narrow(name, ceiling) != name:
            raise InvalidMetadata("scope", f"`{name}` is beyond what this registration allows (`{ceiling}`).")
        needed = _needed_grant(name)
        if needed not in grant_types:
            raise InvalidMetadata("scope", f"`{name}` is used with the grant type {needed}, which is not registered.")
    return " ".join(names)


# -- storing -----------------------------------------------------------------------------


def register(session: Session, metadata: ClientMetadata) -> tuple[AuthClient, str | None, int]:
    """Store a client with a fresh ``client_id``; returns it, its secret (secret clients) and the issue time.

    :raises RegistrationError: when the client store refuses it.
    """
    secret = None
    if metadata.token_endpoint_auth_method in ("client_secret_basic", "client_secret_post"):
        # The store keeps one shared-secret method; its clients may send the secret either way.
        secret = secrets.token_urlsafe(32)
    issued_at = int(time.time())
    stored = {**metadata.as_json(), "client_id_issued_at": issued_at}
    spec = ClientSpec(
        client_id=secrets.token_urlsafe(18),
        scope=metadata.scope,
        redirect_uris=metadata.redirect_uris,
        secret=secret,
        jwks=json.dumps(metadata.jwks) if metadata.jwks is not None else None,
        jwks_url=metadata.jwks_uri,
        registration=json.dumps(stored),
    )
    return add_client(session, spec), secret, issued_at


# -- the endpoint ------------------------------------------------------------------------


def _error(error: str, description: str, status: int = 400, challenge: str | None = None) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    if challenge is not None:
        response.headers["WWW-Authenticate"] = challenge
    return _no_store(response)


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@blueprint.post("/register")
def register_client() -> Response:
    """The client registration endpoint (RFC 7591 section 3), open to holders of an initial access token."""
    _auth()
    value = _bearer()
    if value is None:
        return _error(
            "invalid_token",
            "Registration needs an initial access token (Authorization: Bearer); "
            "an administrator issues one with `fhir-server auth registration-token`.",
            401,
            'Bearer realm="auth"',
        )
    with unit_of_work(_state().sessions) as session:
        ceiling = initial_token_ceiling(session, value)
        if ceiling is None:
            description = "The initial access token is unknown or has expired."
            return _error(
                "invalid_token",
                description,
                401,
                f'Bearer realm="auth", error="invalid_token", error_description="{description}"',
            )
        try:
            metadata = check_metadata(request.get_json(silent=True), ceiling)
            client, secret, issued_at = register(session, metadata)
        except InvalidMetadata as exc:
            session.rollback()
            return _error(exc.error, exc.description)
        except RegistrationError as exc:
            session.rollback()
            return _error("invalid_client_metadata", str(exc))
        body: dict[str, Any] = {"client_id": client.client_id, "client_id_issued_at": issued_at}
    if secret is not None:
        body["client_secret"] = secret
        body["client_secret_expires_at"] = 0  # it does not expire
    body.update(metadata.as_json())
    response = jsonify(body)
    response.status_code = 201
    return _no_store(response)
