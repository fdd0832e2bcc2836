"""Fixtures for the DICOM store, publisher and listener tests, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.dicom import FileStore
from adapters.dicom.publisher import Publisher
from adapters.dicom.store import InstanceStore
from fhir_server.db import make_engine, make_session_factory

from .environment import DICOMWEB, DicomEnv


@pytest.fixture
def dicom_env(database_url: str, tmp_path: Path) -> Iterator[DicomEnv]:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    files = FileStore(tmp_path / "dicom")
    yield DicomEnv(
        database_url,
        engine,
        sessions,
        files,
        InstanceStore(files, sessions),
        Publisher(sessions, dicomweb_base_url=DICOMWEB),
    )
    engine.dispose()
