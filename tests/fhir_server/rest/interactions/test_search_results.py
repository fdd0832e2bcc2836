"""Search result handling: paging, sort, total, includes, summary, errors, POST, system and compartment search."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fhir_factories import patient, put
from flask.testing import FlaskClient


def _path(url: str) -> str:
    return urlsplit(url)._replace(scheme="", netloc="").geturl()


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((_path(link["url"]) for link in bundle["link"] if link["relation"] == relation), None)


def _match_ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _seed(client: FlaskClient, n: int) -> None:
    for i in range(n):
        put(client, patient(id=f"p{i:02d}", name=[{"family": f"Fam{i:02d}"}], birthDate=f"19{50 + i}-01-01"))


def test_paging_visits_every_match_once_and_survives_inserts(client: FlaskClient) -> None:
    _seed(client, 7)
    bundle = client.get("/fhir/Patient?_count=3&_sort=birthdate").get_json()
    seen = _match_ids(bundle)
    put(client, patient(id="early", birthDate="1900-01-01"))  # sorts before everything already paged
    while _link(bundle, "next"):
        bundle = client.get(_link(bundle, "next")).get_json()
        seen += _match_ids(bundle)
    assert seen == [f"p{i:02d}" for i in range(7)]


def test_previous_link_walks_back(client: FlaskClient) -> None:
    _seed(client, 5)
    first = client.get("/fhir/Patient?_count=2&_sort=-birthdate").get_json()
    second = client.get(_link(first, "next")).get_json()
    back = client.get(_link(second, "previous")).get_json()
    assert _match_ids(first) == ["p04", "p03"]
    assert _match_ids(second) == ["p02", "p01"]
    assert _match_ids(back) == _match_ids(first)


def test_sort_by_string_and_multiple_keys(client: FlaskClient) -> None:
    put(client, patient(id="a", name=[{"family": "Beta"}], gender="male"))
    put(client, patient(id="b", name=[{"family": "Alpha"}], gender="male"))
    put(client, patient(id="c", name=[{"family": "Alpha"}], gender="female"))
    ids = _match_ids(client.get("/fhir/Patient?_sort=family,-gender").get_json())
    assert ids == ["b", "c", "a"]


def test_total_modes(client: FlaskClient) -> None:
    _seed(client, 5)
    assert client.get("/fhir/Patient?_count=2&_total=accurate").get_json()["total"] == 5
    assert "total" not in client.get("/fhir/Patient?_count=2&_total=none").get_json()
    assert client.get("/fhir/Patient?_count=10").get_json()["total"] == 5
    estimate = client.get("/fhir/Patient?_count=2&_total=estimate").get_json()["total"]
    assert estimate >= 1
    count_only = client.get("/fhir/Patient?_summary=count").get_json()
    assert count_only["total"] == 5 and count_only["entry"] == []


def test_include_and_revinclude(client: FlaskClient) -> None:
    put(client, {"resourceType": "Organization", "id": "org", "name": "General"})
    put(client, patient(id="p", managingOrganization={"reference": "Organization/org"}))
    put(
        client,
        {
            "resourceType": "Observation",
            "id": "o",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Patient/p"},
        },
    )
    bundle = client.get(
        "/fhir/Observation?_include=Observation:subject&_include:iterate=Patient:organization"
    ).get_json()
    modes = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]}
    assert modes == {("Observation", "match"), ("Patient", "include"), ("Organization", "include")}
    rev = client.get("/fhir/Patient?_id=p&_revinclude=Observation:subject").get_json()
    assert [(e["resource"]["id"], e["search"]["mode"]) for e in rev["entry"]] == [("p", "match"), ("o", "include")]


def test_summary_and_elements_on_entries(client: FlaskClient) -> None:
    put(client, patient(id="s", gender="male", photo=[{"contentType": "image/png"}]))
    entry = client.get("/fhir/Patient?_summary=true").get_json()["entry"][0]["resource"]
    assert "photo" not in entry and entry["gender"] == "male"
    entry = client.get("/fhir/Patient?_elements=gender").get_json()["entry"][0]["resource"]
    assert set(entry) == {"resourceType", "id", "meta", "gender"}


def test_unknown_parameter_is_reported_or_strict_400(client: FlaskClient) -> None:
    _seed(client, 2)
    bundle = client.get("/fhir/Patient?colour=blue").get_json()
    assert len(_match_ids(bundle)) == 2
    outcome = next(e for e in bundle["entry"] if e["search"]["mode"] == "outcome")["resource"]
    assert "`colour` is not a search parameter of `Patient`" in outcome["issue"][0]["diagnostics"]
    strict = client.get("/fhir/Patient?colour=blue", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert strict.get_json()["resourceType"] == "OperationOutcome"


def test_bad_values_are_400(client: FlaskClient) -> None:
    assert client.get("/fhir/Patient?birthdate=yesterday", headers={"Prefer": "handling=strict"}).status_code == 400
    assert client.get("/fhir/Patient?_count=lots").status_code == 400
    assert client.get("/fhir/Patient?_cursor=garbage").status_code == 400


def test_post_search_with_form_body(client: FlaskClient) -> None:
    _seed(client, 3)
    response = client.post(
        "/fhir/Patient/_search", data={"family": "Fam01"}, content_type="application/x-www-form-urlencoded"
    )
    assert _match_ids(response.get_json()) == ["p01"]


def test_system_search_with_type(client: FlaskClient) -> None:
    put(client, patient(id="p1"))
    put(client, {"resourceType": "Organization", "id": "o1", "name": "X"})
    bundle = client.get("/fhir?_type=Patient,Organization&_id=p1,o1").get_json()
    assert sorted(_match_ids(bundle)) == ["o1", "p1"]
    assert _match_ids(client.get("/fhir?_type=Organization").get_json()) == ["o1"]


def test_compartment_search(client: FlaskClient) -> None:
    put(client, patient(id="p1"))
    put(client, patient(id="p2"))
    for oid, subject, code in [("a", "p1", "x"), ("b", "p1", "y"), ("c", "p2", "x")]:
        put(
            client,
            {
                "resourceType": "Observation",
                "id": oid,
                "status": "final",
                "code": {"coding": [{"code": code}]},
                "subject": {"reference": f"Patient/{subject}"},
            },
        )
    assert sorted(_match_ids(client.get("/fhir/Patient/p1/Observation").get_json())) == ["a", "b"]
    assert _match_ids(client.get("/fhir/Patient/p1/Observation?code=x").get_json()) == ["a"]


def test_sort_by_date_puts_resources_without_a_value_first_ascending_last_descending(client: FlaskClient) -> None:
    put(client, patient(id="old", birthDate="1950-01-01"))
    put(client, patient(id="young", birthDate="2000-01-01"))
    nobirth = patient(id="unknown")
    del nobirth["birthDate"]
    put(client, nobirth)
    assert _match_ids(client.get("/fhir/Patient?_sort=birthdate").get_json()) == ["unknown", "old", "young"]
    assert _match_ids(client.get("/fhir/Patient?_sort=-birthdate").get_json()) == ["young", "old", "unknown"]
