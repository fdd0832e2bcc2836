"""A DICOM test environment: database, file store, instance store and publisher."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.dicom import FileStore
from adapters.dicom.publisher import Publisher
from adapters.dicom.store import InstanceStore
from fhir_server.db import unit_of_work
from models import DicomInstance, ResourceRow

DICOMWEB = "http://fhir.test/dicomweb"


@dataclass
class DicomEnv:
    """A migrated, empty database with a file store, instance store and publisher on it."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    files: FileStore
    store: InstanceStore
    publisher: Publisher

    def instances(self) -> list[DicomInstance]:
        with unit_of_work(self.sessions, write=False) as session:
            return list(session.execute(select(DicomInstance).order_by(DicomInstance.pk)).scalars())

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        with unit_of_work(self.sessions, write=False) as session:
            rows = session.execute(
                select(ResourceRow.content).where(ResourceRow.resource_type == resource_type).order_by(ResourceRow.pk)
            ).scalars()
            return [orjson.loads(content) for content in rows if content is not None]

    def quarantined(self) -> list[Path]:
        return sorted((self.files.root / "quarantine").glob("*.dcm"))
