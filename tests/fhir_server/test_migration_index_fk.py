"""Migration 0008 drops the index tables' foreign keys, keeps their rows, and can be undone."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import Engine, inspect, text

from alembic import command
from fhir_server import migrations
from models.search import INDEX_TABLES

_TABLES = [model.__table__.name for model in INDEX_TABLES]


def _foreign_keys(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        found = inspect(connection)
        return {table: len(found.get_foreign_keys(table)) for table in _TABLES}


def _index_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return sum(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in _TABLES)


def test_index_tables_have_no_foreign_key_and_downgrade_restores_them(client: FlaskClient, engine: Engine) -> None:
    patient = {"resourceType": "Patient", "id": "p", "name": [{"family": "Keyless"}], "birthDate": "1970-01-01"}
    assert client.put("/fhir/Patient/p", json=patient).status_code == 201
    rows = _index_rows(engine)
    assert rows > 0
    assert set(_foreign_keys(engine).values()) == {0}
    config = migrations.alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0007")
        assert set(_foreign_keys(engine).values()) == {1}
        assert _index_rows(engine) == rows
    finally:
        migrations.upgrade(engine)
    assert set(_foreign_keys(engine).values()) == {0}
    assert client.get("/fhir/Patient?family=keyless").get_json()["total"] == 1
