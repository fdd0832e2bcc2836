"""Date criteria on the sorted parameter narrow the sort walk (fhir_server.search.sort_bounds).

The narrowed plan splits sort rows into short spans (bounded at both ends) and long
ones; these check that it returns exactly what the criteria match, in sort order,
for the cases the split has to get right: values met by different AND'ed criteria,
periods spanning years, open ends, resources without the date, and paging across
the short/long boundary in both directions.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from fhir_factories import put
from flask.testing import FlaskClient

from fhir_server.search.query import Criterion
from fhir_server.search.sort_bounds import span_bounds


def _path(url: str) -> str:
    return urlsplit(url)._replace(scheme="", netloc="").geturl()


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((_path(link["url"]) for link in bundle["link"] if link["relation"] == relation), None)


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def _all_pages(client: FlaskClient, path: str) -> list[str]:
    bundle = client.get(path).get_json()
    seen = _ids(bundle)
    while _link(bundle, "next"):
        bundle = client.get(_link(bundle, "next")).get_json()
        seen += _ids(bundle)
    return seen


def _observation(id_: str, **effective: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": id_, "status": "final", "code": {"text": "x"}, **effective}


def _care_plan(id_: str, *periods: dict[str, str]) -> dict[str, Any]:
    activities = [{"detail": {"status": "scheduled", "scheduledPeriod": p}} for p in periods]
    return {
        "resourceType": "CarePlan",
        "id": id_,
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p"},
        "activity": activities,
    }


OBSERVATIONS = [
    _observation("jan", effectiveDateTime="2019-01-01T00:00:00Z"),
    _observation("jun", effectiveDateTime="2019-06-15T12:00:00Z"),
    _observation("dec", effectiveDateTime="2019-12-31T23:59:59Z"),
    _observation("dec-day", effectiveDateTime="2019-12-31"),
    _observation("next-year", effectiveDateTime="2020-01-01T00:00:00Z"),  # inside the short walk's extra day
    _observation("last-year", effectiveDateTime="2018-12-31T23:59:59Z"),
    _observation("years", effectivePeriod={"start": "2017-03-01", "end": "2022-03-01"}),
    _observation("open-end", effectivePeriod={"start": "2019-02-01"}),
    _observation("open-start", effectivePeriod={"end": "2019-05-01"}),
    _observation("late-open", effectivePeriod={"start": "2021-01-01"}),
    _observation("undated"),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # highest end first (lowest start ascending); open ends sort as the end of time; ties by row order
        (
            "date=ge2019-01-01&date=lt2020-01-01&_sort=-date",
            ["open-end", "years", "dec", "dec-day", "jun", "open-start", "jan"],
        ),
        (
            "date=ge2019-01-01&date=lt2020-01-01&_sort=date",
            ["open-start", "years", "jan", "open-end", "jun", "dec-day", "dec"],
        ),
        ("date=gt2019-06-30&_sort=-date", ["open-end", "late-open", "years", "next-year", "dec", "dec-day"]),
        ("date=le2019-01-01&_sort=date", ["open-start", "years", "last-year", "jan"]),
        ("date=eq2019-12-31&_sort=-date", ["dec", "dec-day"]),
        ("date=lt2019-01-01,ge2021-01-01&_sort=-date", ["open-end", "late-open", "years", "open-start", "last-year"]),
    ],
)
def test_sorted_date_range_matches_the_unsorted_search(client: FlaskClient, query: str, expected: list[str]) -> None:
    for resource in OBSERVATIONS:
        put(client, resource)
    unsorted = _all_pages(client, f"/fhir/Observation?{query.rsplit('&_sort', 1)[0]}&_count=100")
    assert sorted(unsorted) == sorted(expected)
    assert _all_pages(client, f"/fhir/Observation?{query}&_count=100") == expected
    # two per page crosses the short/long boundary; the cursor must hold across it
    assert _all_pages(client, f"/fhir/Observation?{query}&_count=2") == expected


def test_previous_pages_walk_back_across_the_split(client: FlaskClient) -> None:
    for resource in OBSERVATIONS:
        put(client, resource)
    first = client.get("/fhir/Observation?date=ge2019-01-01&date=lt2020-01-01&_sort=-date&_count=2").get_json()
    second = client.get(_link(first, "next")).get_json()
    third = client.get(_link(second, "next")).get_json()
    assert _ids(second) == ["dec", "dec-day"]
    assert _ids(client.get(_link(third, "previous")).get_json()) == _ids(second)
    assert _ids(client.get(_link(second, "previous")).get_json()) == _ids(first) == ["open-end", "years"]


def test_each_criterion_may_match_a_different_value(client: FlaskClient) -> None:
    put(
        client,
        _care_plan(
            "both-ends", {"start": "2018-03-01", "end": "2018-03-01"}, {"start": "2021-05-01", "end": "2021-05-01"}
        ),
    )
    put(client, _care_plan("middle", {"start": "2019-07-01", "end": "2019-07-02"}))
    put(client, _care_plan("early", {"start": "2018-03-01", "end": "2018-03-01"}))
    put(client, _care_plan("none"))
    query = "activity-date=ge2021-01-01&activity-date=lt2019-01-01"
    assert _all_pages(client, f"/fhir/CarePlan?{query}&_sort=-activity-date&_count=1") == ["both-ends"]
    assert _all_pages(client, f"/fhir/CarePlan?{query}&_sort=activity-date&_count=1") == ["both-ends"]
    # two values on one day: a short span, but not one value, so criteria stay per value
    put(
        client,
        _care_plan(
            "same-day",
            {"start": "2019-03-01T10:00:00Z", "end": "2019-03-01T10:00:00Z"},
            {"start": "2019-03-01T12:00:00Z", "end": "2019-03-01T12:00:00Z"},
        ),
    )
    query = "activity-date=eq2019-03-01T10:00:00Z&activity-date=eq2019-03-01T12:00:00Z"
    assert _all_pages(client, f"/fhir/CarePlan?{query}&_sort=-activity-date") == ["same-day"]
    query = "activity-date=lt2019-03-01T11:00:00Z&activity-date=gt2019-03-01T11:00:00Z"
    assert _all_pages(client, f"/fhir/CarePlan?{query}&_sort=activity-date") == ["both-ends", "same-day"]
    client.delete("/fhir/CarePlan/same-day")
    query = "activity-date=ge2018-01-01&activity-date=lt2020-01-01"
    assert _all_pages(client, f"/fhir/CarePlan?{query}&_sort=-activity-date&_count=1") == [
        "both-ends",
        "middle",
        "early",
    ]
    assert _all_pages(client, f"/fhir/CarePlan?{query}&_sort=activity-date,-_id") == ["early", "both-ends", "middle"]


def test_bounds_ignore_criteria_that_do_not_bound() -> None:
    def criterion(*values: str, modifier: str | None = None, code: str = "date") -> Criterion:
        return Criterion(code=code, modifier=modifier, values=values)

    assert span_bounds([criterion("ne2019"), criterion("ap2019"), criterion("bad", modifier="missing")], "date") == (
        None,
        None,
    )
    assert span_bounds([criterion("ge2019", "lt2018"), criterion("ge2019", code="other")], "date") == (None, None)
    low, high = span_bounds(
        [criterion("ge2019"), criterion("gt2020-06"), criterion("lt2022", "le2021"), criterion("not-a-date")], "date"
    )
    assert (low.isoformat(), high.isoformat()) == ("2020-06-30T23:59:59.999999+00:00", "2022-01-01T00:00:00+00:00")
