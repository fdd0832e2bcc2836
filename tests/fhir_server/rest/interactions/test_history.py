"""history at instance, type and system level: http://hl7.org/fhir/R4/http.html#history"""

from __future__ import annotations

from urllib.parse import urlsplit

from fhir_factories import patient, post, put
from flask.testing import FlaskClient


def _follow(client: FlaskClient, url: str) -> list[dict]:
    """Every entry across all pages, following ``next`` links."""
    entries = []
    while url:
        bundle = client.get(url).get_json()
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "history"
        entries += bundle.get("entry", [])
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = urlsplit(nxt[0])._replace(scheme="", netloc="").geturl() if nxt else ""
    return entries


def test_instance_history_is_newest_first_with_request_and_response(client: FlaskClient) -> None:
    created = post(client, patient()).get_json()
    put(client, {**created, "gender": "female"})
    bundle = client.get(f"/fhir/Patient/{created['id']}/_history").get_json()
    entries = bundle["entry"]
    assert [e["resource"]["meta"]["versionId"] for e in entries] == ["2", "1"]
    assert entries[0]["request"] == {"method": "PUT", "url": f"Patient/{created['id']}"}
    assert entries[1]["request"] == {"method": "POST", "url": "Patient"}
    assert entries[0]["response"]["etag"] == 'W/"2"'
    assert entries[0]["fullUrl"] == f"http://fhir.test/fhir/Patient/{created['id']}"


def test_paging_with_count_visits_every_version_once(client: FlaskClient) -> None:
    created = post(client, patient()).get_json()
    for gender in ["male", "female", "other", "unknown", "male", "female", "other"]:
        put(client, {**created, "gender": gender})
    first = client.get(f"/fhir/Patient/{created['id']}/_history?_count=3").get_json()
    assert len(first["entry"]) == 3
    versions = [
        e["resource"]["meta"]["versionId"] for e in _follow(client, f"/fhir/Patient/{created['id']}/_history?_count=3")
    ]
    assert versions == [str(v) for v in range(8, 0, -1)]


def test_paging_is_stable_when_writes_happen_between_pages(client: FlaskClient) -> None:
    created = post(client, patient()).get_json()
    for _ in range(3):
        put(client, created)
    bundle = client.get(f"/fhir/Patient/{created['id']}/_history?_count=2").get_json()
    put(client, created)  # a new version arrives while the client pages
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    page2 = client.get(urlsplit(next_url)._replace(scheme="", netloc="").geturl()).get_json()
    assert [e["resource"]["meta"]["versionId"] for e in page2["entry"]] == ["2", "1"]


def test_type_and_system_history(client: FlaskClient) -> None:
    post(client, patient())
    post(client, patient())
    post(client, {"resourceType": "Organization", "name": "General Hospital"})
    assert len(client.get("/fhir/Patient/_history").get_json()["entry"]) == 2
    system = client.get("/fhir/_history").get_json()["entry"]
    assert [e["resource"]["resourceType"] for e in system] == ["Organization", "Patient", "Patient"]


def test_since_filters_older_versions(client: FlaskClient) -> None:
    created = post(client, patient()).get_json()
    updated = put(client, {**created, "gender": "male"}).get_json()
    since = updated["meta"]["lastUpdated"]
    entries = client.get("/fhir/Patient/_history", query_string={"_since": since}).get_json()["entry"]
    assert [e["resource"]["meta"]["versionId"] for e in entries] == ["2"]
    assert client.get("/fhir/_history?_since=last-week").status_code == 400
    assert client.get("/fhir/_history?_since=2026-01-01T00:00:00").status_code == 400


def test_history_of_unknown_resource_is_404(client: FlaskClient) -> None:
    assert client.get("/fhir/Patient/none/_history").status_code == 404


def test_bad_count_is_400(client: FlaskClient) -> None:
    assert client.get("/fhir/_history?_count=-1").status_code == 400
