"""Migration 0007 computes ``spidx_date_sort.span_seconds`` for existing rows exactly as the write path does.

Sorted date searches trust the column to tell which sort rows *are* their resource's
only value (fhir_server.search.sort_bounds), so a database upgraded in place must
hold the same spans as one written after the upgrade.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from alembic import command
from fhir_server import migrations
from models.search import SEVERAL_VALUES

_SPANS = "SELECT resource_pk, param, span_seconds FROM spidx_date_sort ORDER BY resource_pk, param"


def _observation(oid: str, **effective: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": {"text": "x"}, **effective}


def _spans(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            (pk, param, None if span is None else int(span)) for pk, param, span in connection.execute(text(_SPANS))
        ]


def test_upgrade_backfills_the_spans_the_write_path_writes(client: FlaskClient, engine: Engine) -> None:
    resources = [
        _observation("instant", effectiveDateTime="2019-01-01T00:00:00Z"),
        _observation("day", effectiveDateTime="2019-01-01"),
        _observation("months", effectivePeriod={"start": "2019-01-01", "end": "2019-03-01"}),
        _observation("open", effectivePeriod={"start": "2019-01-01"}),
        _observation("undated"),
    ]
    for resource in resources:
        assert client.put(f"/fhir/Observation/{resource['id']}", json=resource).status_code == 201
    activities = [
        {"detail": {"status": "scheduled", "scheduledPeriod": {"start": day}}} for day in ("2019-01-01", "2019-01-02")
    ]
    plan = {
        "resourceType": "CarePlan",
        "id": "two",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p"},
        "activity": activities,
    }
    assert client.put("/fhir/CarePlan/two", json=plan).status_code == 201
    written = _spans(engine)
    assert [span for _, param, span in written if param == "date"] == [1, 86400, 60 * 86400, 251856000000, None, None]
    assert [span for _, param, span in written if param == "activity-date"] == [SEVERAL_VALUES]
    config = migrations.alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0006")
        migrations.upgrade(engine, "0007")
        assert _spans(engine) == written
    finally:
        migrations.upgrade(engine)
