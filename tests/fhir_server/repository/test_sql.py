"""SqlRepository behaviour that the REST tests do not reach."""

from __future__ import annotations

from fhir_factories import patient
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from fhir_server.db import unit_of_work
from fhir_server.repository import SqlRepository


def test_skip_unchanged_keeps_the_version_for_identical_content(engine: Engine) -> None:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with unit_of_work(sessions) as session:
        repo = SqlRepository(session)
        first = repo.update("Patient", "same", patient(id="same")).stored
        again = repo.update("Patient", "same", patient(id="same"), skip_unchanged=True)
        changed = repo.update("Patient", "same", patient(id="same", gender="male"), skip_unchanged=True)
        plain = repo.update("Patient", "same", patient(id="same", gender="male"))
    assert again.stored.version_id == first.version_id == 1 and not again.created
    assert again.stored.content == first.content
    assert changed.stored.version_id == 2
    assert plain.stored.version_id == 3
