"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``FHIR_SERVER_TEST_POSTGRES_URL``; each test session makes
its own throw-away database there. Without a reachable server those tests are
skipped with a notice, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from fhir_server import migrations
from fhir_server.app import create_app
from fhir_server.db import make_engine, normalize_database_url
from models import Base

POSTGRES_ENV = "FHIR_SERVER_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]


def _postgres_admin_url() -> str | None:
    """The admin URL in any form the server accepts (``postgres://``, ``postgresql://``...)."""
    url = os.environ.get(POSTGRES_ENV)
    return normalize_database_url(url) if url else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    admin_url = _postgres_admin_url()
    reason = f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/postgres)"
    if admin_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; it is not set, and CI=true requires PostgreSQL.")
        pytest.skip(reason)
    name = f"fhir_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means this machine's PostgreSQL is unusable
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {admin_url} is not usable: {exc}")
        pytest.skip(f"PostgreSQL at {admin_url} is not usable: {exc}")
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file for this test session."""
    path: Path = tmp_path_factory.mktemp("db") / "fhir.sqlite3"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty, migrated database, once per backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    _empty(url)
    return url


def _empty(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        tables = list(reversed(Base.metadata.sorted_tables))
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())
    engine.dispose()


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    # An open server, explicitly: the REST tests exercise FHIR behaviour; tests/auth/ covers SMART.
    application = create_app({"database_url": database_url, "base_url": "http://fhir.test/fhir", "auth": "off"})
    yield application
    application.extensions["fhir_server"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def engine(app: Flask) -> Engine:
    engine: Engine = app.extensions["fhir_server"].engine
    return engine
