"""The SMART authorization-code flow (App Launch 2.2): ``/auth/authorize`` and the code grant.

``GET /auth/authorize`` checks the request, then the browser walks through plain
forms posted back to the same URL: sign in, choose a patient (standalone launch
with ``launch/patient``), approve. Each form carries the original request as
hidden fields, so every step re-checks it; the signed-in user lives in Flask's
signed session cookie, keyed by a secret the server creates once in its database.

Errors about the client or its redirect URI are shown as a page, never redirected
(the URI is not trusted yet); the others go back to the app with ``error`` and
``state`` (RFC 6749 section 4.1.2.1). The code is exchanged once, within
:data:`CODE_LIFETIME`, by the same client with the same redirect URI and the PKCE
verifier of the S256 challenge (RFC 7636).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Flask, Response, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask.wrappers import Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fhir_server.auth import pages
from fhir_server.auth.client_auth import OAuthError, authenticate_client
from fhir_server.auth.clients import find_client, find_user, verify_secret
from fhir_server.auth.endpoints import _auth, _fhir_base, _state, blueprint
from fhir_server.auth.keys import ALGORITHMS, SIGNING_ALGORITHM
from fhir_server.auth.scopes import Grant, InvalidScope, narrow
from fhir_server.auth.service import AuthService
from fhir_server.auth.tokens import AccessToken
from fhir_server.db import unit_of_work
from fhir_server.repository import SqlRepository
from fhir_server.search.query import SearchQuery
from models import AuthCode, AuthLaunch, AuthRevokedToken, AuthSecret

#: Seconds an authorization code may wait for its exchange.
CODE_LIFETIME = 120
#: Refresh-token lifetimes: ``offline_access`` outlives the sign-in, ``online_access`` only a working day.
REFRESH_LIFETIME = {"offline_access": 30 * 24 * 3600, "online_access": 8 * 3600}
_REFRESH_TYPE = "refresh+jwt"
#: How long an EHR launch value may wait for the app to come to ``/auth/authorize``.
LAUNCH_LIFETIME = timedelta(hours=1)
#: The request parameters the forms carry along (everything the flow needs to re-check).
REQUEST_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "aud",
    "code_challenge",
    "code_challenge_method",
    "launch",
)
_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_SESSION_USER = "smart_user"
_SESSION_CSRF = "smart_csrf"
#: How many stored patients the picker offers.
PICKER_SIZE = 200


# -- browser session --------------------------------------------------------------


class _ServerKeySessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, only on the authorize pages, keyed by a secret kept in the database."""

    def open_session(self, app: Flask, request: Request) -> Any:
        # The FHIR API never gets a session cookie: a null session there.
        if not request.path.startswith(f"{blueprint.url_prefix}/authorize"):
            return None
        if not app.secret_key:
            app.secret_key = _session_secret()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        # Asked by save_session for each response, while its request is handled: the cookie is
        # Secure whenever that request came over HTTPS (a browser would drop a Secure cookie
        # set over plain http, so development on http keeps working). SESSION_COOKIE_SECURE
        # still forces it on. Behind a TLS-terminating proxy, request.is_secure holds only if
        # the WSGI server sets the scheme from the proxy (gunicorn: forwarded_allow_ips).
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def _session_secret() -> str:
    """The key of the browser sessions: created once, shared by every server process."""
    sessions = _state().sessions
    with unit_of_work(sessions) as db:
        row = db.get(AuthSecret, "session")
        if row is not None:
            return row.value
    value = secrets.token_hex(32)
    try:
        with unit_of_work(sessions) as db:
            db.add(AuthSecret(name="session", value=value, created=datetime.now(UTC)))
        return value
    except IntegrityError:  # another process created it first
        with unit_of_work(sessions, write=False) as db:
            row = db.get(AuthSecret, "session")
            assert row is not None
            return row.value


@blueprint.record_once
def _use_server_key_sessions(setup: Any) -> None:
    app: Flask = setup.app
    if not app.secret_key:
        app.session_interface = _ServerKeySessions()
    # The forms post to this server only; the cookie need not travel on cross-site requests.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


# -- EHR launch ------------------------------------------------------------------------


def create_launch(db: Session, patient: str | None, encounter: str | None) -> str:
    """An opaque ``launch`` value binding this context, for an EHR to hand to the app."""
    launch_id = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    db.add(
        AuthLaunch(
            launch_id=launch_id, patient=patient, encounter=encounter, created=now, expires=now + LAUNCH_LIFETIME
        )
    )
    return launch_id


# -- the authorization request -----------------------------------------------------


class _RedirectError(Exception):
    """An error reported to the (verified) redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


class _PageError(Exception):
    """An error shown to the user, because the redirect URI cannot be trusted."""


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A checked authorization request."""

    params: dict[str, str]
    client_id: str
    redirect_uri: str
    #: What the client may get of what it asked (no system/ scopes in this flow).
    granted: str
    patient: str | None
    encounter: str | None
    #: Whether a patient must be chosen (``patient/`` or ``launch/patient`` without an EHR launch patient).
    needs_patient: bool


def _check_request(db: Session, params: dict[str, str]) -> AuthorizationRequest:
    client_id = params.get("client_id", "")
    client = find_client(db, client_id) if client_id else None
    if client is None:
        raise _PageError("The app (`client_id`) is not registered with this server.")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris.split():
        raise _PageError("The `redirect_uri` is not one the app registered.")
    if params.get("response_type") != "code":
        raise _RedirectError("unsupported_response_type", "`response_type` must be `code`.")
    if params.get("aud", "").rstrip("/") != _fhir_base():
        raise _RedirectError("invalid_request", f"`aud` must be this FHIR server's base URL, {_fhir_base()}.")
    if not params.get("code_challenge"):
        raise _RedirectError("invalid_request", "PKCE is required: send `code_challenge` (S256).")
    if params.get("code_challenge_method") != "S256":
        raise _RedirectError("invalid_request", "`code_challenge_method` must be `S256`.")
    requested = params.get("scope", "")
    try:
        Grant.parse(requested)
    except InvalidScope as exc:
        raise _RedirectError("invalid_scope", str(exc)) from exc
    # An app acting for a user never gets system/ scopes.
    granted = narrow(" ".join(s for s in requested.split() if not s.startswith("system/")), client.scope)
    if not Grant.parse(granted).resource_scopes:
        raise _RedirectError("invalid_scope", "None of the requested resource scopes is granted to this app.")
    patient = encounter = None
    if params.get("launch"):
        launch = db.get(AuthLaunch, params["launch"])
        if launch is None or _aware(launch.expires) < datetime.now(UTC):
            raise _RedirectError("invalid_request", "The `launch` is unknown or has expired.")
        patient, encounter = launch.patient, launch.encounter
    grant = Grant.parse(granted)
    wants_patient = "launch/patient" in grant.scopes or any(s.context == "patient" for s in grant.resource_scopes)
    return AuthorizationRequest(
        params, client_id, redirect_uri, granted, patient, encounter, wants_patient and patient is None
    )


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _back_to_app(redirect_uri: str, params: dict[str, str]) -> Response:
    state = request.values.get("state")
    if state is not None:
        params = {**params, "state": state}
    separator = "&" if "?" in redirect_uri else "?"
    location = f"{redirect_uri}{separator}{urlencode(params)}"
    return Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    """The authorization endpoint (RFC 6749 section 3.1; SMART App Launch 2.2 section 2.0.5)."""
    _auth()
    source = request.args if request.method == "GET" else request.form
    params = {name: source[name] for name in REQUEST_FIELDS if name in source}
    with unit_of_work(_state().sessions) as db:
        try:
            checked = _check_request(db, params)
        except _PageError as exc:
            return pages.error_page(str(exc))
        except _RedirectError as exc:
            return _back_to_app(params["redirect_uri"], {"error": exc.error, "error_description": exc.description})
        if request.method == "POST" and not _csrf_ok():
            return pages.error_page("The form expired or did not come from this server; start again.", 403)
        return _next_step(db, checked)


def _csrf_ok() -> bool:
    sent = request.form.get("csrf", "")
    expected = session.get(_SESSION_CSRF, "")
    return bool(sent) and hmac.compare_digest(sent, expected)


def _hidden(params: dict[str, str], **extra: str) -> dict[str, str]:
    if _SESSION_CSRF not in session:
        session[_SESSION_CSRF] = secrets.token_urlsafe(32)
    return {**params, **extra, "csrf": session[_SESSION_CSRF]}


def _next_step(db: Session, checked: AuthorizationRequest) -> Response:
    action = request.base_url
    form = request.form if request.method == "POST" else {}
    if "username" in form:
        user = find_user(db, form.get("username", ""))
        if user is None or not verify_secret(user.password_hash, form.get("password", "")):
            return pages.login_page(action, checked.client_id, _hidden(checked.params), "Wrong user name or password.")
        # A fresh session on sign-in, so a session planted before cannot be carried over.
        session.clear()
        session[_SESSION_USER] = user.username
    username = session.get(_SESSION_USER)
    user = find_user(db, username) if username else None
    if user is None:
        return pages.login_page(action, checked.client_id, _hidden(checked.params))
    patient = checked.patient
    if checked.needs_patient:
        choices = _patients(db)
        chosen = form.get("patient")
        if chosen is None or chosen not in dict(choices):
            error = None if chosen is None else "Choose one of the listed patients."
            return pages.patient_picker(action, checked.client_id, _hidden(checked.params), choices, error)
        patient = chosen
    extra = {"patient": patient} if checked.needs_patient and patient else {}
    decision = form.get("decision")
    if decision is None:
        return pages.approval_page(
            action, checked.client_id, user.username, checked.granted.split(), patient, _hidden(checked.params, **extra)
        )
    if decision != "approve":
        return _back_to_app(checked.redirect_uri, {"error": "access_denied", "error_description": "The user denied."})
    code = secrets.token_urlsafe(32)
    db.add(
        AuthCode(
            code_hash=_digest(code),
            client_id=checked.client_id,
            redirect_uri=checked.redirect_uri,
            scope=checked.granted,
            code_challenge=checked.params["code_challenge"],
            username=user.username,
            fhir_user=user.fhir_user,
            patient=patient,
            encounter=checked.encounter,
            need_patient_banner=patient is not None,
            expires=datetime.now(UTC) + timedelta(seconds=CODE_LIFETIME),
            used=None,
        )
    )
    return _back_to_app(checked.redirect_uri, {"code": code})


def _patients(db: Session) -> list[tuple[str, str]]:
    """(id, display name) of stored Patients, for the picker."""
    result = SqlRepository(db).search(
        ["Patient"], SearchQuery(count=PICKER_SIZE), base_url=_fhir_base(), page_size=PICKER_SIZE
    )
    choices = []
    for stored in result.matches:
        resource = orjson.loads(stored.content or b"{}")
        choices.append((stored.id, _display_name(resource)))
    return choices


def _display_name(patient: dict[str, Any]) -> str:
    for name in patient.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        parts = [*name.get("given", []), name.get("family", "")]
        text = " ".join(str(p) for p in parts if p)
        if text:
            return text
    return "(no name)"


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


# -- the authorization_code grant at /auth/token -----------------------------------


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
            .where(AuthCode.code_hash == _digest(code), AuthCode.used.is_(None), AuthCode.expires > now)
            .values(used=now)
        ).rowcount  # type: ignore[attr-defined]
        row = db.get(AuthCode, _digest(code)) if consumed else None
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
