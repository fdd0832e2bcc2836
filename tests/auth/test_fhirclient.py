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

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from auth.live import LiveServer, approve_in_browser, serve
from fhirclient import client as smart
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.server import FHIRNotFoundException, FHIRPermissionDeniedException

CALLBACK = "http://127.0.0.1:9/growth-chart/callback"
PASSWORD = "correct horse battery"


@pytest.fixture
def live(database_url: str, store: Callable[[dict[str, Any]], str]) -> Iterator[LiveServer]:
    """``fhir-server serve`` on the test database, with an app, a user and two patients registered."""
    for pid, given, family in (("A", "Ada", "Alpha"), ("B", "Bob", "Beta")):
        store({"resourceType": "Patient", "id": pid, "name": [{"given": [given], "family": family}]})
    with serve(database_url) as server:
        server.cli(
            "auth", "client", "add", "--client-id", "growth-chart", "--public", "--redirect-uri", CALLBACK,
            "--scope", "launch launch/patient patient/*.rs openid fhirUser offline_access",
        )  # fmt: skip
        server.cli(
            "auth", "user", "add", "--username", "alice", "--password", PASSWORD, "--fhir-user", "Practitioner/doc"
        )
        yield server


def browse(authorize_url: str, patient: str | None) -> str:
    """Sign in as alice, pick ``patient`` (when asked), approve; the URL the server redirects back to."""
    return approve_in_browser(
        authorize_url, username="alice", password=PASSWORD, redirect_uri=CALLBACK, patient=patient
    )


def app(live: LiveServer, scope: str, **settings: str) -> smart.FHIRClient:
    return smart.FHIRClient(
        settings={
            "app_id": "growth-chart",
            "api_base": f"{live.base}/fhir",
            "redirect_uri": CALLBACK,
            "scope": scope,
            **settings,
        }
    )


def test_standalone_launch_reads_the_chosen_patient_only(live: LiveServer) -> None:
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


def test_ehr_launch_binds_the_patient_the_ehr_chose(live: LiveServer) -> None:
    launch = live.cli("auth", "launch", "--patient", "B").stdout.strip()
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
