"""SMART's own Python client (``fhirclient``) against the running server over HTTP.

The server runs as ``fhir-server serve`` (authorization at its default, SMART) on
each test backend; the app and the user are registered with the CLI. fhirclient
finds the endpoints in the CapabilityStatement's oauth-uris extension (4.4 does
not read ``.well-known/smart-configuration``), builds the authorization URL (with
``aud``, ``state`` and a PKCE S256 challenge; versions before 4.4 send no PKCE,
which this server refuses), and exchanges the code; the test plays the browser
in between: sign in, pick the patient, approve.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from fhirclient import client as smart
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRNotFoundException, FHIRPermissionDeniedException

CLI = [sys.executable, "-m", "fhir_server.cli"]
CALLBACK = "http://127.0.0.1:9/growth-chart/callback"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Live:
    base: str
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        done = subprocess.run([*CLI, *args], env=self.env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(database_url: str, store: Callable[[dict[str, Any]], str]) -> Iterator[Live]:
    """``fhir-server serve`` on the test database, with an app, a user and two patients registered."""
    for pid, given, family in (("A", "Ada", "Alpha"), ("B", "Bob", "Beta")):
        store({"resourceType": "Patient", "id": pid, "name": [{"given": [given], "family": family}]})
    port = _free_port()
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": database_url}
    for name in ("FHIR_SERVER_AUTH", "FHIR_SERVER_BASE_URL", "FHIR_SERVER_CONFIG_FILE"):
        env.pop(name, None)  # SMART on, and the base URL taken from the request
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
        server_live = Live(base, env)
        server_live.cli(
            "auth", "client", "add", "--client-id", "growth-chart", "--public", "--redirect-uri", CALLBACK,
            "--scope", "launch launch/patient patient/*.rs openid fhirUser offline_access",
        )  # fmt: skip
        server_live.cli(
            "auth", "user", "add", "--username", "alice", "--password", PASSWORD, "--fhir-user", "Practitioner/doc"
        )
        yield server_live
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()


class _Form(HTMLParser):
    """What a browser submits from the page's form: its action, hidden fields, select options, buttons."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.inputs: list[str] = []
        self.options: list[str] = []
        self.buttons: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a["value"]
        elif tag == "input":
            self.inputs.append(a["name"])
        elif tag == "select":
            self.inputs.append(a["name"])
        elif tag == "option":
            self.options.append(a["value"])
        elif tag == "button" and "name" in a:
            self.buttons[a["value"]] = a["name"]


def browse(authorize_url: str, patient: str | None) -> str:
    """Sign in as alice, pick ``patient`` (when asked), approve; the URL the server redirects back to."""
    browser = requests.Session()
    page = browser.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text

    def submit(response: requests.Response, **values: str) -> requests.Response:
        form = _Form(response.text)
        return browser.post(
            urljoin(response.url, form.action), data={**form.fields, **values}, allow_redirects=False, timeout=10
        )

    assert _Form(page.text).inputs == ["username", "password"]
    page = submit(page, username="alice", password=PASSWORD)
    assert page.status_code == 200, page.text
    if patient is not None:
        picker = _Form(page.text)
        assert picker.inputs == ["patient"] and picker.options == ["A", "B"]
        page = submit(page, patient=patient)
        assert page.status_code == 200, page.text
    approval = _Form(page.text)
    assert approval.buttons == {"approve": "decision", "deny": "decision"}
    back = submit(page, decision="approve")
    assert back.status_code == 302, back.text
    location = back.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return location


def app(live: Live, scope: str, **settings: str) -> smart.FHIRClient:
    return smart.FHIRClient(
        settings={
            "app_id": "growth-chart",
            "api_base": f"{live.base}/fhir",
            "redirect_uri": CALLBACK,
            "scope": scope,
            **settings,
        }
    )


def test_standalone_launch_reads_the_chosen_patient_only(live: Live) -> None:
    client = app(live, "patient/Patient.rs openid fhirUser offline_access")
    url = client.authorize_url  # from the CapabilityStatement's oauth-uris
    assert url.startswith(f"{live.base}/auth/authorize?")
    query = parse_qs(urlsplit(url).query)
    # fhirclient adds launch/patient itself (no patient yet) and sends PKCE S256 and aud.
    assert query["scope"] == ["launch/patient patient/Patient.rs openid fhirUser offline_access"]
    assert query["code_challenge_method"] == ["S256"] and query["aud"] == [f"{live.base}/fhir"]

    back = browse(url, patient="A")
    assert parse_qs(urlsplit(back).query)["state"] == query["state"]
    client.handle_callback(back)
    assert client.ready
    assert client.patient_id == "A"
    assert client.launch_context["need_patient_banner"] is True
    assert client.launch_context["scope"] == "launch/patient patient/Patient.rs openid fhirUser offline_access"

    patient = Patient.read("A", client.server)
    assert patient.id == "A"
    assert (patient.name[0].given, patient.name[0].family) == (["Ada"], "Alpha")
    assert client.human_name(client.patient.name[0]) == "Ada Alpha"
    # Another patient is outside the token's reach: not found, as if it did not exist.
    with pytest.raises(FHIRNotFoundException) as outside:
        Patient.read("B", client.server)
    assert outside.value.response.status_code == 404
    # A search sees the launch patient alone; a type the token has no scope for is refused outright.
    assert [p.id for p in Patient.where({"_count": "10"}).perform_resources_iter(client.server)] == ["A"]
    with pytest.raises(FHIRPermissionDeniedException) as unscoped:
        list(Observation.where({"subject": "Patient/A"}).perform_resources_iter(client.server))
    assert unscoped.value.response.status_code == 403

    # offline_access: fhirclient's refresh (grant_type=refresh_token) gets a new access token.
    first = client.server.auth.access_token
    assert client.reauthorize()
    assert client.server.auth.access_token != first
    assert Patient.read("A", client.server).id == "A"


def test_ehr_launch_binds_the_patient_the_ehr_chose(live: Live) -> None:
    launch = live.cli("auth", "launch", "--patient", "B")
    client = app(live, "patient/*.rs", launch_token=launch)
    url = client.authorize_url
    query = parse_qs(urlsplit(url).query)
    assert query["launch"] == [launch] and query["scope"] == ["launch patient/*.rs"]

    client.handle_callback(browse(url, patient=None))  # no picker: the EHR chose
    assert client.patient_id == "B"
    patient = Patient.read("B", client.server)
    assert (patient.id, patient.name[0].family) == ("B", "Beta")
    with pytest.raises(FHIRNotFoundException) as outside:
        Patient.read("A", client.server)
    assert outside.value.response.status_code == 404
