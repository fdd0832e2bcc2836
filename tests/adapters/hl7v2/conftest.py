"""Fixtures for the HL7 v2 adapter tests: sample messages from ``data/`` (see its NOTICE.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.db import make_engine, make_session_factory

DATA = Path(__file__).parent / "data"


@pytest.fixture
def sample() -> Callable[[str], bytes]:
    """Return a loader of a sample message's bytes, segments ending in CR as over MLLP."""

    def load(name: str) -> bytes:
        data = (DATA / name).read_bytes()
        # Some samples were saved with LF; MLLP peers send CR.
        return data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")

    return load


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on an empty, migrated database (SQLite and PostgreSQL)."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """Poll a condition for up to 10 seconds."""

    def wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("The condition did not become true within the timeout.")
            time.sleep(0.02)

    return wait
