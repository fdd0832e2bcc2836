"""Every usual PostgreSQL URL works, for the CLI and the server, on both installed drivers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fhir_server.app import create_app
from fhir_server.cli import main
from fhir_server.config import ConfigError, load_settings
from fhir_server.db import normalize_database_url

pytestmark = pytest.mark.postgres

#: scheme as people write it -> the driver SQLAlchemy ends up using
FORMS = {
    "postgres": "psycopg2",
    "postgresql": "psycopg2",
    "postgresql+psycopg2": "psycopg2",
    "postgresql+psycopg": "psycopg",
}


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    """A new, unmigrated database on the test server, as a ``postgresql://`` URL without driver."""
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"fhir_urls_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(drivername="postgresql", database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize("scheme", FORMS)
def test_cli_upgrade_and_server_writes_on_every_url_form(
    scheme: str, empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = scheme + empty_database.removeprefix("postgresql")
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output

    app = create_app({"database_url": url, "base_url": "http://fhir.test/fhir", "auth": "off"})
    engine = app.extensions["fhir_server"].engine
    assert engine.dialect.driver == FORMS[scheme]
    client = app.test_client()
    try:
        created = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Url"}]})
        assert created.status_code == 201, created.get_data(as_text=True)
        patient_id = created.get_json()["id"]
        updated = client.put(
            f"/fhir/Patient/{patient_id}",
            json={"resourceType": "Patient", "id": patient_id, "name": [{"family": "Urlchanged"}]},
        )
        assert updated.status_code == 200
        # A transaction goes through the many-resource write statement.
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:8b7a3f0e-6d1f-4a0e-9d0b-1f2e3d4c5b6a",
                    "resource": {"resourceType": "Patient", "name": [{"family": "Bundled"}]},
                    "request": {"method": "POST", "url": "Patient"},
                },
                {
                    "resource": {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                        "subject": {"reference": "urn:uuid:8b7a3f0e-6d1f-4a0e-9d0b-1f2e3d4c5b6a"},
                    },
                    "request": {"method": "POST", "url": "Observation"},
                },
            ],
        }
        transaction = client.post("/fhir", json=bundle)
        assert transaction.status_code == 200, transaction.get_data(as_text=True)
        found = client.get("/fhir/Patient?family=urlchanged").get_json()
        assert [e["resource"]["id"] for e in found["entry"]] == [patient_id]
        observations = client.get("/fhir/Observation?subject.family=Bundled&code=http://loinc.org|8867-4").get_json()
        assert observations["total"] == 1
    finally:
        engine.dispose()


def test_other_databases_and_drivers_are_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="FHIR_SERVER_DATABASE_URL: `mysql` databases are not supported"):
        load_settings({"database_url": "mysql://u@h/db"}, environ={})
    with pytest.raises(ConfigError, match="driver `asyncpg` is not supported"):
        load_settings({"database_url": "postgresql+asyncpg://u@h/db"}, environ={})


def test_normalized_urls_keep_credentials_and_options() -> None:
    assert normalize_database_url("postgres://u:p%40ss@db.example:6543/fhir?sslmode=require") == (
        "postgresql+psycopg2://u:p%40ss@db.example:6543/fhir?sslmode=require"
    )
    assert normalize_database_url("sqlite:///var/fhir.sqlite3") == "sqlite:///var/fhir.sqlite3"
