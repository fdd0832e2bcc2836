"""The SMART authorization-code flow, driven like a browser: authorize, sign in, pick, approve, exchange."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from auth.conftest import BASE
from auth.live import Form, LiveServer, check_user_patient_reader, code_flow
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.test import TestResponse

from fhir_server.auth.clients import ClientSpec, add_client, add_user
from fhir_server.auth.grants import s256
from fhir_server.cli import main
from fhir_server.db import unit_of_work

APP = "https://app.example/callback"
VERIFIER = secrets.token_urlsafe(48)


def form_of(response: TestResponse) -> Form:
    return Form(response.get_data(as_text=True))


@pytest.fixture
def registered(smart_app: Flask, store: Callable[[dict[str, Any]], str]) -> None:
    sessions = smart_app.extensions["fhir_server"].sessions
    with unit_of_work(sessions) as session:
        add_client(
            session,
            ClientSpec(
                "growth-chart",
                "patient/*.rs user/*.rs launch launch/patient openid fhirUser offline_access system/*.rs",
                (APP,),
            ),
        )
        add_user(session, "alice", "correct horse battery", "Practitioner/doc")
    for pid, family in (("A", "Alpha"), ("B", "<b>Beta</b>")):
        store({"resourceType": "Patient", "id": pid, "name": [{"given": ["Pat"], "family": family}]})
        store(
            {
                "resourceType": "Observation",
                "id": f"{pid}-obs",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": f"Patient/{pid}"},
            }
        )


def authorize_params(**overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "growth-chart",
        "redirect_uri": APP,
        "scope": "launch/patient patient/*.rs openid fhirUser",
        "state": "st<&>1",
        "aud": BASE,
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def redirected(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(APP + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def sign_in_and_approve(
    client: FlaskClient, patient: str | None = "A", password: str = "correct horse battery", **overrides: str | None
) -> dict[str, str]:
    """Walk the pages (sign-in only when not yet signed in); the query of the redirect back to the app."""
    page = client.get("/auth/authorize", query_string=authorize_params(**overrides))
    assert page.status_code == 200
    if 'name="username"' in page.get_data(as_text=True):
        page = client.post("/auth/authorize", data={**form_of(page).fields, "username": "alice", "password": password})
    if patient is not None:
        picker = form_of(page)
        assert picker.options == ["A", "B"]
        page = client.post("/auth/authorize", data={**picker.fields, "patient": patient})
    approval = form_of(page)
    assert list(approval.buttons) == ["approve", "deny"]
    return redirected(client.post("/auth/authorize", data={**approval.fields, "decision": "approve"}))


def exchange(client: FlaskClient, code: str, verifier: str = VERIFIER, redirect_uri: str = APP) -> TestResponse:
    return client.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": "growth-chart",
            "code_verifier": verifier,
        },
    )


@pytest.mark.usefixtures("registered")
def test_standalone_launch_reaches_only_the_chosen_patient(smart_client: FlaskClient) -> None:
    back = sign_in_and_approve(smart_client, patient="A")
    assert back["state"] == "st<&>1"
    response = exchange(smart_client, back["code"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert body["patient"] == "A" and body["need_patient_banner"] is True
    assert body["scope"] == "launch/patient patient/*.rs openid fhirUser"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert smart_client.get("/fhir/Patient/A", headers=headers).status_code == 200
    assert smart_client.get("/fhir/Patient/B", headers=headers).status_code == 404
    found = smart_client.get("/fhir/Observation", headers=headers).get_json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == ["A-obs"]
    # openid fhirUser: an id_token for the signed-in user, signed with the server's key.
    jwks = KeySet.import_key_set(smart_client.get("/auth/jwks").get_json())
    identity = jwt.decode(body["id_token"], jwks, algorithms=["RS384"]).claims
    assert identity["aud"] == "growth-chart" and identity["iss"] == BASE and identity["sub"] == "alice"
    assert identity["fhirUser"] == f"{BASE}/Practitioner/doc"
    # The code is spent.
    assert exchange(smart_client, back["code"]).get_json()["error"] == "invalid_grant"


@pytest.mark.usefixtures("registered")
def test_user_scopes_need_no_patient_and_system_scopes_are_dropped(smart_client: FlaskClient) -> None:
    back = sign_in_and_approve(smart_client, patient=None, scope="user/Patient.rs system/*.rs")
    body = exchange(smart_client, back["code"]).get_json()
    assert body["scope"] == "user/Patient.rs"
    assert "patient" not in body
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert smart_client.get("/fhir/Patient/B", headers=headers).status_code == 200


@pytest.mark.usefixtures("registered")
def test_the_picker_escapes_names(smart_client: FlaskClient) -> None:
    page = smart_client.get("/auth/authorize", query_string=authorize_params())
    page = smart_client.post(
        "/auth/authorize", data={**form_of(page).fields, "username": "alice", "password": "correct horse battery"}
    )
    html = page.get_data(as_text=True)
    assert "&lt;b&gt;Beta&lt;/b&gt;" in html and "<b>Beta" not in html
    assert 'value="st&lt;&amp;&gt;1"' in html  # the state, too


@pytest.mark.usefixtures("registered")
def test_client_and_redirect_uri_errors_are_a_page_never_a_redirect(smart_client: FlaskClient) -> None:
    for overrides in ({"redirect_uri": "https://evil.example/cb"}, {"client_id": "nobody"}, {"redirect_uri": None}):
        response = smart_client.get("/auth/authorize", query_string=authorize_params(**overrides))
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert response.mimetype == "text/html"


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"aud": "http://other.example/fhir"}, "invalid_request"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "system/*.rs"}, "invalid_scope"),
        ({"launch": "no-such-launch"}, "invalid_request"),
    ],
)
def test_other_errors_go_back_to_the_app_with_the_state(
    smart_client: FlaskClient, overrides: dict[str, str | None], error: str
) -> None:
    back = redirected(smart_client.get("/auth/authorize", query_string=authorize_params(**overrides)))
    assert back["error"] == error
    assert back["state"] == "st<&>1"
    assert "code" not in back


@pytest.mark.usefixtures("registered")
def test_wrong_password_shows_the_login_again(smart_client: FlaskClient) -> None:
    page = smart_client.get("/auth/authorize", query_string=authorize_params())
    again = smart_client.post("/auth/authorize", data={**form_of(page).fields, "username": "alice", "password": "no"})
    assert again.status_code == 401
    assert "Wrong user name or password" in again.get_data(as_text=True)
    assert 'name="password"' in again.get_data(as_text=True)


@pytest.mark.usefixtures("registered")
def test_a_form_without_the_sessions_csrf_value_is_refused(smart_client: FlaskClient) -> None:
    page = smart_client.get("/auth/authorize", query_string=authorize_params())
    fields = {**form_of(page).fields, "csrf": "forged"}
    refused = smart_client.post("/auth/authorize", data={**fields, "username": "alice", "password": "x"})
    assert refused.status_code == 403


def cookie_attributes(response: TestResponse) -> list[str]:
    """The attributes of the one cookie the response sets, lower-cased: ``["secure", "httponly", ...]``."""
    (cookie,) = response.headers.getlist("Set-Cookie")
    return [attribute.strip().lower() for attribute in cookie.split(";")[1:]]


@pytest.mark.usefixtures("registered")
def test_the_session_cookie_is_secure_over_https_and_never_readable_by_scripts(smart_app: Flask) -> None:
    https = smart_app.test_client()
    page = https.get("/auth/authorize", query_string=authorize_params(), base_url="https://fhir.test")
    assert page.status_code == 200
    assert {"secure", "httponly", "samesite=lax"} <= set(cookie_attributes(page))
    # The browser sends it back over HTTPS only; the sign-in goes on with it, and its new cookie is Secure too.
    signed_in = https.post(
        "/auth/authorize",
        data={**form_of(page).fields, "username": "alice", "password": "correct horse battery"},
        base_url="https://fhir.test",
    )
    assert signed_in.status_code == 200 and form_of(signed_in).options == ["A", "B"]
    assert {"secure", "httponly"} <= set(cookie_attributes(signed_in))
    # Over plain http (development) a Secure cookie would be dropped by the browser: none is set.
    http = smart_app.test_client()
    page = http.get("/auth/authorize", query_string=authorize_params(), base_url="http://fhir.test")
    assert page.status_code == 200
    attributes = cookie_attributes(page)
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert "secure" not in attributes


@pytest.mark.usefixtures("registered")
def test_deny_redirects_with_access_denied(smart_client: FlaskClient) -> None:
    page = smart_client.get("/auth/authorize", query_string=authorize_params(scope="user/*.rs"))
    page = smart_client.post(
        "/auth/authorize", data={**form_of(page).fields, "username": "alice", "password": "correct horse battery"}
    )
    back = redirected(smart_client.post("/auth/authorize", data={**form_of(page).fields, "decision": "deny"}))
    assert back["error"] == "access_denied" and back["state"] == "st<&>1"


@pytest.mark.usefixtures("registered")
def test_exchange_refusals(smart_client: FlaskClient) -> None:
    wrong_verifier = exchange(smart_client, sign_in_and_approve(smart_client)["code"], verifier="x" * 43)
    assert wrong_verifier.status_code == 400
    assert "code_verifier" in wrong_verifier.get_json()["error_description"]
    wrong_uri = exchange(smart_client, sign_in_and_approve(smart_client)["code"], redirect_uri=APP + "/other")
    assert wrong_uri.get_json()["error"] == "invalid_grant"
    assert exchange(smart_client, "made-up").get_json()["error"] == "invalid_grant"
    # A refused exchange spends the code as well: no second guess at the verifier.
    code = sign_in_and_approve(smart_client)["code"]
    assert exchange(smart_client, code, verifier="y" * 43).status_code == 400
    assert exchange(smart_client, code).get_json()["error"] == "invalid_grant"


@pytest.mark.usefixtures("registered")
def test_ehr_launch_binds_the_launch_context(
    smart_app: Flask, smart_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", smart_app.extensions["fhir_server"].settings.database_url)
    monkeypatch.setenv("FHIR_SERVER_AUTH", "smart")
    result = CliRunner().invoke(main, ["auth", "launch", "--patient", "B", "--encounter", "enc1"])
    assert result.exit_code == 0, result.output
    launch = result.output.strip()
    # No picker: the EHR chose the patient.
    back = sign_in_and_approve(smart_client, patient=None, scope="launch patient/*.rs", launch=launch)
    body = exchange(smart_client, back["code"]).get_json()
    assert (body["patient"], body["encounter"], body["need_patient_banner"]) == ("B", "enc1", True)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert smart_client.get("/fhir/Patient/B", headers=headers).status_code == 200
    assert smart_client.get("/fhir/Patient/A", headers=headers).status_code == 404


@pytest.mark.usefixtures("registered")
def test_an_expired_code_is_refused(smart_client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fhir_server.auth.authorize.CODE_LIFETIME", -1)
    code = sign_in_and_approve(smart_client)["code"]
    assert exchange(smart_client, code).get_json()["error"] == "invalid_grant"


def refresh(client: FlaskClient, token: str, **extra: str) -> TestResponse:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "growth-chart", **extra}
    return client.post("/auth/token", data=form)


@pytest.mark.usefixtures("registered")
def test_offline_access_gives_a_rotating_refresh_token(smart_client: FlaskClient) -> None:
    back = sign_in_and_approve(smart_client, scope="launch/patient patient/*.rs offline_access")
    first = exchange(smart_client, back["code"]).get_json()
    assert "refresh_token" in first
    # A refresh token is no access token.
    assert (
        smart_client.get("/fhir/Patient/A", headers={"Authorization": f"Bearer {first['refresh_token']}"}).status_code
        == 401
    )
    assert refresh(smart_client, first["access_token"]).get_json()["error"] == "invalid_grant"
    second = refresh(smart_client, first["refresh_token"], scope="patient/Patient.rs offline_access")
    assert second.status_code == 200, second.get_json()
    body = second.get_json()
    assert body["scope"] == "patient/Patient.rs offline_access"
    assert body["patient"] == "A" and body["need_patient_banner"] is True
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert smart_client.get("/fhir/Patient/A", headers=headers).status_code == 200
    assert smart_client.get("/fhir/Observation", headers=headers).status_code == 403
    # Spent on use: the first refresh token is refused now, the new one works.
    assert refresh(smart_client, first["refresh_token"]).get_json()["error"] == "invalid_grant"
    latest = refresh(smart_client, body["refresh_token"]).get_json()
    assert "access_token" in latest
    # Revocation (RFC 7009) takes refresh tokens too.
    revoked = smart_client.post("/auth/revoke", data={"token": latest["refresh_token"], "client_id": "growth-chart"})
    assert revoked.status_code == 200
    assert refresh(smart_client, latest["refresh_token"]).get_json()["error"] == "invalid_grant"


@pytest.mark.usefixtures("registered")
def test_no_refresh_token_without_offline_or_online_access(smart_client: FlaskClient) -> None:
    back = sign_in_and_approve(smart_client, patient=None, scope="user/*.rs")
    assert "refresh_token" not in exchange(smart_client, back["code"]).get_json()


# -- against the running server, with a real OAuth2 client library ------------------


def test_authlib_public_client_runs_the_code_flow_with_pkce(live_server: LiveServer) -> None:
    callback = "http://127.0.0.1:9/callback"
    live_server.cli(
        "auth", "client", "add", "--client-id", "web-app", "--public", "--redirect-uri", callback,
        "--scope", "user/*.rs openid fhirUser offline_access",
    )  # fmt: skip
    live_server.cli(
        "auth", "user", "add", "--username", "bob", "--password", "long enough pw", "--fhir-user", "Practitioner/7"
    )
    app, token = code_flow(
        live_server,
        "web-app",
        "user/Patient.rs openid fhirUser offline_access",
        username="bob",
        password="long enough pw",
        redirect_uri=callback,
    )
    check_user_patient_reader(live_server, app, token)


@pytest.mark.usefixtures("registered")
def test_a_confidential_client_must_authenticate_at_the_exchange(smart_app: Flask, smart_client: FlaskClient) -> None:
    with unit_of_work(smart_app.extensions["fhir_server"].sessions) as session:
        add_client(session, ClientSpec("ehr-app", "user/*.rs", (APP,), secret="s3cret-s3cret"))
    code = sign_in_and_approve(smart_client, patient=None, client_id="ehr-app", scope="user/*.rs")["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP, "code_verifier": VERIFIER}
    unauthenticated = smart_client.post("/auth/token", data={**form, "client_id": "ehr-app"})
    assert unauthenticated.status_code == 401
    code = sign_in_and_approve(smart_client, patient=None, client_id="ehr-app", scope="user/*.rs")["code"]
    granted = smart_client.post("/auth/token", data={**form, "code": code}, auth=("ehr-app", "s3cret-s3cret"))
    assert granted.status_code == 200, granted.get_json()
    assert granted.get_json()["scope"] == "user/*.rs"
