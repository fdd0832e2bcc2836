"""Concurrent writers never share a version number and never lose an update."""

from __future__ import annotations

import threading

from fhir_factories import patient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.db import unit_of_work
from fhir_server.repository import SqlRepository

THREADS = 4
UPDATES_EACH = 10


def _run_threads(target: object, count: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - collected and asserted in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_updates_get_distinct_consecutive_versions(engine: Engine) -> None:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with unit_of_work(sessions) as session:
        SqlRepository(session).update("Patient", "shared", patient(id="shared"))

    def writer(index: int) -> None:
        for n in range(UPDATES_EACH):
            with unit_of_work(sessions) as session:
                SqlRepository(session).update(
                    "Patient", "shared", patient(id="shared", gender="other", multipleBirthInteger=index * 100 + n)
                )

    assert _run_threads(writer, THREADS) == []
    with engine.connect() as connection:
        current = connection.execute(text("SELECT version_id FROM resource WHERE fhir_id = 'shared'")).scalar_one()
        versions = (
            connection.execute(
                text("SELECT version_id FROM resource_history WHERE fhir_id = 'shared' ORDER BY version_id")
            )
            .scalars()
            .all()
        )
        births = connection.execute(text("SELECT count(*) FROM resource_history WHERE fhir_id = 'shared'")).scalar_one()
    expected = 1 + THREADS * UPDATES_EACH
    assert current == expected
    assert versions == list(range(1, expected + 1))
    assert births == expected


def test_concurrent_update_as_create_creates_once(engine: Engine) -> None:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    barrier = threading.Barrier(THREADS)

    def creator(_index: int) -> None:
        session: Session = sessions()
        try:
            barrier.wait()
            SqlRepository(session).update("Patient", "race", patient(id="race"))
            session.commit()
        finally:
            session.close()

    assert _run_threads(creator, THREADS) == []
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*), max(version_id) FROM resource WHERE fhir_id = 'race'")).one()
    assert tuple(rows) == (1, THREADS)
