"""The authorization server's HTTP endpoints (``/auth/...``) and SMART discovery.

Built so far: the token endpoint for SMART Backend Services (``client_credentials``
with ``private_key_jwt``, or a client secret) and for apps (``authorization_code``,
with the authorization endpoint in :mod:`fhir_server.auth.authorize`), the JWKS,
token introspection (RFC 7662), revocation (RFC 7009) and dynamic client registration
(RFC 7591, in :mod:`fhir_server.auth.registration`). Discovery lists exactly these.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from joserfc.errors import JoseError

from fhir_server.auth.client_auth import OAuthError, authenticate_client
from fhir_server.auth.scopes import Grant, InvalidScope, narrow
from fhir_server.auth.service import AuthService, authorization_base
from fhir_server.auth.tokens import InvalidToken
from fhir_server.db import unit_of_work

blueprint = Blueprint("auth", __name__, url_prefix="/auth")

#: What the server implements today, for discovery (SMART App Launch 2.2 section 2.1).
CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "permission-patient",
    "permission-user",
    "permission-offline",
    "permission-online",
    "permission-v1",
    "permission-v2",
]
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
AUTH_METHODS = ["private_key_jwt", "client_secret_basic", "client_secret_post"]
SCOPES_SUPPORTED = [
    "launch",
    "launch/patient",
    "openid",
    "fhirUser",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "patient/*.rs",
    "patient/*.read",
    "user/*.cruds",
    "user/*.rs",
    "user/*.read",
    "system/*.cruds",
    "system/*.rs",
    "system/*.read",
    "system/*.write",
    "system/*.*",
]


def _state() -> Any:
    from fhir_server.rest.request_scope import server_state

    return server_state()


def _auth() -> AuthService:
    auth: AuthService | None = _state().auth
    if auth is None:
        raise OAuthError("server_error", "Authorization is off on this server (FHIR_SERVER_AUTH=off).", 404)
    return auth


def _fhir_base() -> str:
    from fhir_server.rest.http import base_url

    return base_url()


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@blueprint.errorhandler(OAuthError)
def _oauth_error(error: OAuthError) -> Response:
    response = jsonify({"error": error.error, "error_description": error.description})
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="auth"'
    return _no_store(response)


@blueprint.post("/token")
def token() -> Response:
    """Token endpoint (RFC 6749 section 3.2): ``client_credentials`` for backend services,
    ``authorization_code`` and ``refresh_token`` for apps (see :mod:`fhir_server.auth.grants`)."""
    auth = _auth()
    form = request.form.to_dict()
    fhir_base = _fhir_base()
    token_url = f"{authorization_base(fhir_base)}/token"
    grant_type = form.get("grant_type")
    if grant_type not in GRANT_TYPES:
        raise OAuthError("unsupported_grant_type", f"`grant_type` must be one of {', '.join(GRANT_TYPES)}.")
    if grant_type in ("authorization_code", "refresh_token"):
        from fhir_server.auth.grants import code_grant, refresh_grant

        exchange = code_grant if grant_type == "authorization_code" else refresh_grant
        return _no_store(jsonify(exchange(auth, form, request.headers.get("Authorization"), token_url)))
    sessions = _state().sessions
    with unit_of_work(sessions) as session:
        client, _method = authenticate_client(session, form, request.headers.get("Authorization"), token_url)
        if client.auth_method == "none":
            raise OAuthError("unauthorized_client", "A public client cannot use client_credentials.")
        requested = form.get("scope", "")
        try:
            Grant.parse(requested)
        except InvalidScope as exc:
            raise OAuthError("invalid_scope", str(exc)) from exc
        # Backend services act for themselves: only system/ scopes, and only those registered.
        system_only = " ".join(s for s in requested.split() if s.startswith("system/"))
        granted = narrow(system_only, client.scope)
        if not granted:
            raise OAuthError("invalid_scope", f"None of the requested scopes is granted to `{client.client_id}`.")
        client_id = client.client_id
    # Minted after the commit: the first token creates the signing key in a transaction of its own.
    value, claims = auth.tokens.mint(
        issuer=fhir_base, audience=fhir_base, client_id=client_id, subject=client_id, scope=granted
    )
    body = {"access_token": value, "token_type": "Bearer", "expires_in": auth.tokens.lifetime, "scope": claims.scope}
    return _no_store(jsonify(body))


@blueprint.get("/jwks")
def jwks() -> Response:
    """The public keys access tokens are signed with."""
    return jsonify(_auth().tokens.keys.public_jwks())


@blueprint.post("/introspect")
def introspect() -> Response:
    """Token introspection (RFC 7662) for an authenticated client; inactive tokens say only so."""
    auth = _auth()
    fhir_base = _fhir_base()
    form = request.form.to_dict()
    with unit_of_work(_state().sessions) as session:
        authenticate_client(
            session, form, request.headers.get("Authorization"), f"{authorization_base(fhir_base)}/token"
        )
    try:
        claims = auth.tokens.verify(form.get("token", ""), audience=fhir_base)
    except (InvalidToken, JoseError):
        return _no_store(jsonify({"active": False}))
    body: dict[str, Any] = {
        "active": True,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.subject,
        "exp": claims.expires,
        "token_type": "Bearer",
        "aud": fhir_base,
        "iss": fhir_base,
    }
    for name, value in (("patient", claims.patient), ("encounter", claims.encounter), ("fhirUser", claims.fhir_user)):
        if value is not None:
            body[name] = value
    return _no_store(jsonify(body))


@blueprint.post("/revoke")
def revoke() -> Response:
    """Token revocation (RFC 7009): a client revokes its own token; unknown tokens are ignored (200)."""
    auth = _auth()
    fhir_base = _fhir_base()
    form = request.form.to_dict()
    token_url = f"{authorization_base(fhir_base)}/token"
    try:
        claims = auth.tokens.verify(form.get("token", ""), audience=fhir_base)
        jti, expires, owner = claims.jti, claims.expires, claims.client_id
    except (InvalidToken, JoseError):
        jti = None
    if jti is None:  # perhaps a refresh token (RFC 7009 requires revoking those too)
        from fhir_server.auth.grants import verify_refresh

        try:
            refresh = verify_refresh(auth, form.get("token", ""), token_url)
            jti, expires, owner = refresh["jti"], int(refresh["exp"]), refresh["client_id"]
        except OAuthError:
            jti = None
    with unit_of_work(_state().sessions) as session:
        client, _ = authenticate_client(session, form, request.headers.get("Authorization"), token_url)
        if jti is not None and owner == client.client_id:
            auth.tokens.revoke(session, jti, expires)
    return _no_store(Response(status=200))


def smart_configuration() -> Response:
    """``GET [base]/.well-known/smart-configuration`` (SMART App Launch 2.2 section 2.1)."""
    fhir_base = _fhir_base()
    auth_base = authorization_base(fhir_base)
    body = {
        "issuer": fhir_base,
        "jwks_uri": f"{auth_base}/jwks",
        "authorization_endpoint": f"{auth_base}/authorize",
        "token_endpoint": f"{auth_base}/token",
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": GRANT_TYPES,
        "introspection_endpoint": f"{auth_base}/introspect",
        "revocation_endpoint": f"{auth_base}/revoke",
        "registration_endpoint": f"{auth_base}/register",
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }
    return jsonify(body)


def security_section(fhir_base: str) -> dict[str, Any]:
    """The CapabilityStatement ``rest.security`` element for a SMART-protected server."""
    auth_base = authorization_base(fhir_base)
    uris = [
        ("authorize", f"{auth_base}/authorize"),
        ("token", f"{auth_base}/token"),
        ("revoke", f"{auth_base}/revoke"),
        ("introspect", f"{auth_base}/introspect"),
        ("register", f"{auth_base}/register"),
    ]
    return {
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [{"url": name, "valueUri": uri} for name, uri in uris],
            }
        ],
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
    }


# The authorization and registration endpoints register their routes on this blueprint
# (imported last: they import this module).
from fhir_server.auth import authorize as _authorize  # noqa: E402, F401
from fhir_server.auth import registration as _registration  # noqa: E402, F401
