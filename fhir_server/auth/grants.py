"""The token endpoint's grants for apps: ``authorization_code`` and ``refresh_token``.

A code (from :mod:`fhir_server.auth.authorize`) is exchanged once, within its lifetime, by
the same client with the same redirect URI and the PKCE verifier of its S256 challenge
(RFC 7636). The token response carries the launch context, an ``id_token`` for
``openid fhirUser`` and, for ``offline_access``/``online_access``, a refresh token: a signed
``refresh+jwt`` addressed to the token endpoint, rotated on use (the spent ``jti`` is
revoked), whose scope may only narrow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from fhir_server.auth.authorize import code_digest
from fhir_server.auth.client_auth import OAuthError, authenticate_client
from fhir_server.auth.endpoints import _fhir_base, _state
from fhir_server.auth.keys import ALGORITHMS, SIGNING_ALGORITHM
from fhir_server.auth.scopes import narrow
from fhir_server.auth.service import AuthService
from fhir_server.auth.tokens import AccessToken
from fhir_server.db import unit_of_work
from models import AuthCode, AuthRevokedToken

#: Refresh-token lifetimes: ``offline_access`` outlives the sign-in, ``online_access`` only a working day.
REFRESH_LIFETIME = {"offline_access": 30 * 24 * 3600, "online_access": 8 * 3600}
_REFRESH_TYPE = "refresh+jwt"
_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 section 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def code_grant(auth: AuthService, form: dict[str, str], authorization: str | None, token_url: str) -> dict[str, Any]:
    """Exchange an authorization code for an access token; :raises OAuthError: otherwise."""
    fhir_base = _fhir_base()
    code = form.get("code", "")
    with unit_of_work(_state().sessions) as db:
        client, _method = authenticate_client(db, form, authorization, token_url)
        # Consumed first, atomically and for good (committed even when a check below fails):
        # a second or concurrent exchange finds it used.
        now = datetime.now(UTC)
        consumed = db.execute(
            update(AuthCode)
            .where(AuthCode.code_hash == code_digest(code), AuthCode.used.is_(None), AuthCode.expires > now)
            .values(used=now)
        ).rowcount  # type: ignore[attr-defined]
        row = db.get(AuthCode, code_digest(code)) if consumed else None
        if row is not None:
            db.expunge(row)
    if row is None:
        raise OAuthError("invalid_grant", "The code is unknown, expired or already used.")
    if row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "The code was issued to another client.")
    if form.get("redirect_uri") != row.redirect_uri:
        raise OAuthError("invalid_grant", "`redirect_uri` differs from the authorization request's.")
    verifier = form.get("code_verifier", "")
    if not _PKCE_VERIFIER.match(verifier) or not hmac.compare_digest(s256(verifier), row.code_challenge):
        raise OAuthError("invalid_grant", "The PKCE `code_verifier` does not match the `code_challenge`.")
    context = AccessToken(
        jti="",
        client_id=row.client_id,
        subject=row.username,
        scope=row.scope,
        expires=0,
        patient=row.patient,
        encounter=row.encounter,
        fhir_user=row.fhir_user,
    )
    return _token_response(auth, fhir_base, token_url, context, row.need_patient_banner)


def _token_response(
    auth: AuthService, fhir_base: str, token_url: str, grant: AccessToken, banner: bool
) -> dict[str, Any]:
    """The token response for ``grant`` (its jti and expiry are fresh): access token, and refresh token if asked."""
    value, claims = auth.tokens.mint(
        issuer=fhir_base,
        audience=fhir_base,
        client_id=grant.client_id,
        subject=grant.subject,
        scope=grant.scope,
        patient=grant.patient,
        encounter=grant.encounter,
        fhir_user=grant.fhir_user,
    )
    body: dict[str, Any] = {
        "access_token": value,
        "token_type": "Bearer",
        "expires_in": auth.tokens.lifetime,
        "scope": claims.scope,
    }
    if claims.patient is not None:
        body["patient"] = claims.patient
        body["need_patient_banner"] = banner
    if claims.encounter is not None:
        body["encounter"] = claims.encounter
    refresh = _mint_refresh(auth, token_url, claims, banner)
    if refresh is not None:
        body["refresh_token"] = refresh
    if "openid" in claims.scope.split():
        body["id_token"] = _mint_id_token(auth, fhir_base, claims)
    return body


def _mint_id_token(auth: AuthService, fhir_base: str, grant: AccessToken) -> str:
    """An OpenID Connect id_token for the signed-in user, with ``fhirUser`` when that scope was granted."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": fhir_base,
        "sub": grant.subject,
        "aud": grant.client_id,
        "iat": now,
        "exp": now + auth.tokens.lifetime,
    }
    if "fhirUser" in grant.scope.split() and grant.fhir_user:
        # SMART: the absolute URL of the user's FHIR resource.
        claims["fhirUser"] = f"{fhir_base}/{grant.fhir_user}"
    key = auth.tokens.keys.signing_key()
    return jwt.encode({"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=ALGORITHMS)


# -- refresh tokens ------------------------------------------------------------------


def _mint_refresh(auth: AuthService, token_url: str, grant: AccessToken, banner: bool) -> str | None:
    """A refresh token for an ``offline_access``/``online_access`` grant, else ``None``.

    A JWT signed like the access tokens but addressed to the token endpoint (so the FHIR
    API refuses it) and typed ``refresh+jwt``; spent refresh tokens are revoked by jti.
    """
    scopes = grant.scope.split()
    lifetimes = [REFRESH_LIFETIME[s] for s in scopes if s in REFRESH_LIFETIME]
    if not lifetimes:
        return None
    now = int(time.time())
    claims = {
        **AccessToken(
            jti=secrets.token_hex(16),
            client_id=grant.client_id,
            subject=grant.subject,
            scope=grant.scope,
            expires=now + max(lifetimes),
            patient=grant.patient,
            encounter=grant.encounter,
            fhir_user=grant.fhir_user,
        ).claims(issuer=token_url, audience=token_url),
        "need_patient_banner": banner,
    }
    key = auth.tokens.keys.signing_key()
    header = {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": _REFRESH_TYPE}
    return jwt.encode(header, claims, key, algorithms=ALGORITHMS)


def verify_refresh(auth: AuthService, value: str, token_url: str) -> dict[str, Any]:
    """The claims of a valid refresh token of this server (revocation is checked at use).

    :raises OAuthError: ``invalid_grant`` otherwise.
    """
    try:
        token = extract_compact(value.encode())
        if token.headers().get("typ") != _REFRESH_TYPE:
            raise OAuthError("invalid_grant", "This is not a refresh token of this server.")
        claims = jwt.decode(
            value, auth.tokens.keys.verification_keys(token.headers().get("kid")), algorithms=ALGORITHMS
        ).claims
        jwt.JWTClaimsRegistry(
            aud={"essential": True, "value": token_url}, exp={"essential": True}, jti={"essential": True}
        ).validate(claims)
    except (JoseError, ValueError) as exc:
        raise OAuthError("invalid_grant", "The refresh token is invalid or has expired.") from exc
    return claims


def refresh_grant(auth: AuthService, form: dict[str, str], authorization: str | None, token_url: str) -> dict[str, Any]:
    """``grant_type=refresh_token`` (RFC 6749 section 6): new tokens; the refresh token is rotated."""
    claims = verify_refresh(auth, form.get("refresh_token", ""), token_url)
    with unit_of_work(_state().sessions) as db:
        client, _method = authenticate_client(db, form, authorization, token_url)
        if claims["client_id"] != client.client_id:
            raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
        # Spent at once (rotation): a stolen copy used later is refused.
        try:
            with db.begin_nested():
                db.add(AuthRevokedToken(jti=claims["jti"], expires=datetime.fromtimestamp(claims["exp"], UTC)))
        except IntegrityError as exc:
            raise OAuthError("invalid_grant", "The refresh token was already used or revoked.") from exc
    scope = claims["scope"]
    if form.get("scope"):
        # A client may ask for less than it was granted, never more.
        scope = narrow(form["scope"], scope)
        if not scope:
            raise OAuthError("invalid_scope", "The requested scopes are not within the refresh token's.")
    grant = AccessToken(
        jti="",
        client_id=claims["client_id"],
        subject=str(claims["sub"]),
        scope=scope,
        expires=0,
        patient=claims.get("patient"),
        encounter=claims.get("encounter"),
        fhir_user=claims.get("fhirUser"),
    )
    return _token_response(auth, _fhir_base(), token_url, grant, bool(claims.get("need_patient_banner")))
