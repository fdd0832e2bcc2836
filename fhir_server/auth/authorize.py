"""The SMART authorization-code flow (App Launch 2.2): ``/auth/authorize``, up to the code.

``GET /auth/authorize`` checks the request, then the browser walks through plain
forms posted back to the same URL: sign in, choose a patient (standalone launch
with ``launch/patient``), approve. Each form carries the original request as
hidden fields, so every step re-checks it; the signed-in user lives in Flask's
signed session cookie, keyed by a secret the server creates once in its database.

Errors about the client or its redirect URI are shown as a page, never redirected
(the URI is not trusted yet); the others go back to the app with ``error`` and
``state`` (RFC 6749 section 4.1.2.1). The code is exchanged at the token endpoint
(:mod:`fhir_server.auth.grants`) within :data:`CODE_LIFETIME`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Flask, Response, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask.wrappers import Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fhir_server.auth import pages
from fhir_server.auth.clients import find_client, find_user, verify_secret
from fhir_server.auth.endpoints import _auth, _fhir_base, _state, blueprint
from fhir_server.auth.scopes import Grant, InvalidScope, narrow
from fhir_server.db import unit_of_work
from fhir_server.repository import SqlRepository
from fhir_server.search.query import SearchQuery
from models import AuthCode, AuthLaunch, AuthSecret

#: Seconds an authorization code may wait for its exchange.
CODE_LIFETIME = 120
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
            code_hash=code_digest(code),
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


def code_digest(code: str) -> str:
    """How a code is stored: only its SHA-256, so a database reader cannot redeem it."""
    return hashlib.sha256(code.encode()).hexdigest()
