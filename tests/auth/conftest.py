"""Fixtures for the SMART tests: a server with authorization on, and a way to mint tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from auth.live import LiveServer, serve
from flask import Flask
from flask.testing import FlaskClient

from fhir_server.app import create_app
from fhir_server.db import unit_of_work
from fhir_server.repository import SqlRepository

BASE = "http://fhir.test/fhir"


@pytest.fixture
def smart_app(database_url: str) -> Iterator[Flask]:
    # The tests store recorded accesses themselves (drain_all), not on a background thread.
    application = create_app(
        {"database_url": database_url, "base_url": BASE, "auth": "smart", "audit_drain_interval": 0}
    )
    yield application
    application.extensions["fhir_server"].engine.dispose()


@pytest.fixture
def smart_client(smart_app: Flask) -> FlaskClient:
    return smart_app.test_client()


@pytest.fixture
def mint(smart_app: Flask) -> Callable[..., dict[str, str]]:
    """``mint(scope, patient=None, ...)``: Authorization headers carrying a fresh token."""
    tokens = smart_app.extensions["fhir_server"].auth.tokens

    def headers(scope: str, **claims: Any) -> dict[str, str]:
        value, _ = tokens.mint(
            issuer=BASE,
            audience=claims.pop("audience", BASE),
            client_id="test-app",
            subject="tester",
            scope=scope,
            **claims,
        )
        return {"Authorization": f"Bearer {value}"}

    return headers


@pytest.fixture
def store(smart_app: Flask) -> Callable[[dict[str, Any]], str]:
    """Store a resource as a trusted in-process writer (an adapter would); returns its id."""
    sessions = smart_app.extensions["fhir_server"].sessions

    def put(resource: dict[str, Any]) -> str:
        with unit_of_work(sessions) as session:
            repo = SqlRepository(session)
            if "id" in resource:
                return repo.update(resource["resourceType"], resource["id"], resource).stored.id
            return repo.create(resource).id

    return put


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """``fhir-server serve`` on a new SQLite file of its own (the server migrates it on start)."""
    with serve(f"sqlite:///{tmp_path / 'live.sqlite3'}") as server:
        yield server
