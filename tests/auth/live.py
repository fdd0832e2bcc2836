"""The running server for the SMART tests: ``fhir-server serve`` over HTTP, its CLI, and a browser's walk through the pages.

``serve(database_url)`` starts the server on a free port and yields a ``LiveServer``
(base URL, environment, ``cli(*args)``); ``approve_in_browser`` signs in, picks the
patient and approves like a browser, returning the redirect back to the app;
``code_flow`` runs the whole authorization-code flow with Authlib as a public app.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import IO, Any
from urllib.parse import urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

CLI = [sys.executable, "-m", "fhir_server.cli"]


@dataclass(frozen=True)
class LiveServer:
    base: str
    env: dict[str, str]
    database_url: str
    #: Where the server's output goes (see :meth:`printed`).
    log: IO[bytes] | None = None

    def printed(self) -> str:
        """What the server has printed so far."""
        assert self.log is not None
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``fhir-server ARGS`` on the server's database; it must succeed."""
        done = subprocess.run([*CLI, *args], env=self.env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done

    def smart_configuration(self) -> dict[str, Any]:
        response = requests.get(f"{self.base}/fhir/.well-known/smart-configuration", timeout=5)
        assert response.status_code == 200, response.text
        config: dict[str, Any] = response.json()
        return config


def server_env(database_url: str) -> dict[str, str]:
    """The environment of the server and its CLI: ``database_url``, SMART on, the base URL taken from the request."""
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": database_url}
    for name in ("FHIR_SERVER_AUTH", "FHIR_SERVER_BASE_URL", "FHIR_SERVER_CONFIG_FILE"):
        env.pop(name, None)
    return env


@contextmanager
def serve(database_url: str, **settings: str) -> Iterator[LiveServer]:
    """``fhir-server serve`` on a free port until the block ends; what it printed goes to stderr at the end.

    ``settings`` are extra environment variables, e.g. ``FHIR_SERVER_AUTH="off"``.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**server_env(database_url), **settings}
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(f"{base}/fhir/metadata", timeout=2)
                    break
                except requests.ConnectionError:
                    assert server.poll() is None, "the server exited (its output is in the captured stderr)"
                    assert time.monotonic() < deadline, "the server did not start in 30 s"
                    time.sleep(0.2)
            yield LiveServer(base, env, database_url, log)
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))  # shown by pytest when the test fails


class Form(HTMLParser):
    """What a browser submits from the page's form: its action, hidden fields, select options, buttons."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.inputs: list[str] = []
        self.options: list[str] = []
        self.buttons: dict[str, str] = {}  # value -> name
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a["value"]
        elif tag in ("input", "select"):
            self.inputs.append(a["name"])
        elif tag == "option":
            self.options.append(a["value"])
        elif tag == "button" and "name" in a:
            self.buttons[a["value"]] = a["name"]


#: The approval page's buttons, in order: value -> name.
APPROVE_OR_DENY = [("approve", "decision"), ("deny", "decision")]


def approve_in_browser(
    authorize_url: str, *, username: str, password: str, redirect_uri: str, patient: str | None = None
) -> str:
    """Sign in, pick ``patient`` (when asked for one), approve; the URL the server redirects back to."""
    browser = requests.Session()
    page = browser.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text

    def submit(response: requests.Response, **values: str) -> requests.Response:
        form = Form(response.text)
        return browser.post(
            urljoin(response.url, form.action), data={**form.fields, **values}, allow_redirects=False, timeout=10
        )

    assert Form(page.text).inputs == ["username", "password"]
    page = submit(page, username=username, password=password)
    assert page.status_code == 200, page.text
    if patient is not None:
        picker = Form(page.text)
        assert picker.inputs == ["patient"] and picker.options == ["A", "B"]
        page = submit(page, patient=patient)
        assert page.status_code == 200, page.text
    assert list(Form(page.text).buttons.items()) == APPROVE_OR_DENY
    back = submit(page, decision="approve")
    assert back.status_code == 302, back.text
    location = back.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    return location


def code_flow(
    live: LiveServer, client_id: str, scope: str, *, username: str, password: str, redirect_uri: str
) -> tuple[OAuth2Session, dict[str, Any]]:
    """A public app with Authlib: PKCE S256 and ``aud``, the pages walked, the code exchanged; session and token."""
    config = live.smart_configuration()
    app = OAuth2Session(
        client_id,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(64)
    url, state = app.create_authorization_url(
        config["authorization_endpoint"], code_verifier=verifier, aud=f"{live.base}/fhir"
    )
    back = approve_in_browser(url, username=username, password=password, redirect_uri=redirect_uri)
    assert state in back
    token = app.fetch_token(config["token_endpoint"], authorization_response=back, code_verifier=verifier)
    return app, token


def check_user_patient_reader(live: LiveServer, app: OAuth2Session, token: dict[str, Any]) -> None:
    """The token of ``code_flow`` for ``user/Patient.rs openid fhirUser offline_access``: what it reaches, its refresh."""
    assert token["scope"] == "user/Patient.rs openid fhirUser offline_access"
    assert "id_token" in token and "refresh_token" in token
    assert app.get(f"{live.base}/fhir/Patient", timeout=10).status_code == 200
    assert app.get(f"{live.base}/fhir/Observation", timeout=10).status_code == 403
    renewed = app.refresh_token(live.smart_configuration()["token_endpoint"])
    assert renewed["access_token"] != token["access_token"]


class SmartPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's private_key_jwt with SMART's limit: assertions expire within five minutes.

    Authlib signs assertions valid for an hour by default, which SMART Backend
    Services forbids (and this server refuses, see test_backend_services).
    """

    def sign(self, auth: object, token_endpoint: str) -> bytes:
        self.claims = {"exp": int(time.time()) + 240}  # a fresh dict each time: Authlib adds the jti to it
        return super().sign(auth, token_endpoint)  # type: ignore[no-any-return]


def backend_session(live: LiveServer, client_id: str, key: Any, *, kid: str, alg: str, scope: str) -> OAuth2Session:
    """An Authlib session for a backend service signing its assertions with ``key`` (a JWK dict is read as RSA)."""
    token_url = live.smart_configuration()["token_endpoint"]
    return OAuth2Session(
        client_id=client_id,
        client_secret=key,
        token_endpoint_auth_method=SmartPrivateKeyJWT(token_url, headers={"kid": kid}, alg=alg),
        revocation_endpoint_auth_method=SmartPrivateKeyJWT(token_url, headers={"kid": kid}, alg=alg),
        scope=scope,
    )


def check_patient_writing_backend(live: LiveServer, session: OAuth2Session, family: str) -> dict[str, Any]:
    """A backend of ``backend_session`` granted ``system/Patient.rs system/Patient.c``: its token, what it reaches."""
    token: dict[str, Any] = session.fetch_token(
        live.smart_configuration()["token_endpoint"], grant_type="client_credentials"
    )
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "system/Patient.rs system/Patient.c"
    patient = {"resourceType": "Patient", "name": [{"family": family}]}
    created = session.post(f"{live.base}/fhir/Patient", json=patient, timeout=10)
    assert created.status_code == 201, created.text
    found = session.get(f"{live.base}/fhir/Patient?family={family}", timeout=10).json()
    assert found["total"] == 1
    assert session.get(f"{live.base}/fhir/Observation", timeout=10).status_code == 403
    return token
