"""SqlRepository.write_many: many resources per statement, with the rules of single writes."""

from __future__ import annotations

import orjson
import pytest
from fhir_factories import patient
from sqlalchemy import Engine, text
from sqlalchemy.orm import sessionmaker

from fhir_server.db import unit_of_work
from fhir_server.errors import Conflict, InvalidResource, PreconditionFailed
from fhir_server.repository import SqlRepository
from fhir_server.repository._batch_write import BatchWriteFailed, PendingWrite
from fhir_server.search.query import parse_query


def _write(engine: Engine, writes: list[PendingWrite]) -> list:
    with unit_of_work(sessionmaker(bind=engine, expire_on_commit=False)) as session:
        return SqlRepository(session).write_many(writes)


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def _found(engine: Engine, query: str) -> list[str]:
    with unit_of_work(sessionmaker(bind=engine), write=False) as session:
        result = SqlRepository(session).search(
            ["Patient"],
            parse_query([tuple(p.split("=")) for p in query.split("&")]),
            base_url="http://x/fhir",
            page_size=50,
        )
    return sorted(s.id for s in result.matches)


def test_creates_store_versions_history_and_index_rows(engine: Engine) -> None:
    writes = [
        PendingWrite(patient(id=f"p{n}", name=[{"family": f"Batch{n}"}]), method="POST", new=True) for n in range(30)
    ]
    results = _write(engine, writes)
    assert [(r.stored.id, r.stored.version_id, r.created) for r in results] == [(f"p{n}", 1, True) for n in range(30)]
    assert _count(engine, "SELECT count(*) FROM resource") == 30
    assert _count(engine, "SELECT count(*) FROM resource_history WHERE method = 'POST'") == 30
    assert _found(engine, "name=batch7") == ["p7"]
    stored = orjson.loads(results[3].stored.content)
    assert stored["id"] == "p3" and stored["meta"]["versionId"] == "1"


def test_updates_replace_index_rows_and_bump_versions(engine: Engine) -> None:
    _write(engine, [PendingWrite(patient(id="a", name=[{"family": "Old"}])), PendingWrite(patient(id="b"))])
    results = _write(engine, [PendingWrite(patient(id="a", name=[{"family": "New"}])), PendingWrite(patient(id="c"))])
    assert [(r.stored.id, r.stored.version_id, r.created) for r in results] == [("a", 2, False), ("c", 1, True)]
    assert _found(engine, "name=old") == []
    assert _found(engine, "name=new") == ["a"]
    assert _count(engine, "SELECT count(*) FROM resource_history WHERE fhir_id = 'a'") == 2


def test_the_same_resource_twice_is_written_in_order(engine: Engine) -> None:
    results = _write(
        engine, [PendingWrite(patient(id="twice", gender="male")), PendingWrite(patient(id="twice", gender="female"))]
    )
    assert [r.stored.version_id for r in results] == [1, 2]
    assert _found(engine, "gender=female") == ["twice"]
    assert _found(engine, "gender=male") == []


def test_unchanged_and_if_absent_keep_the_current_version(engine: Engine) -> None:
    _write(engine, [PendingWrite(patient(id="same", gender="male")), PendingWrite(patient(id="kept", gender="male"))])
    results = _write(
        engine,
        [
            PendingWrite(patient(id="same", gender="male"), skip_unchanged=True),
            PendingWrite(patient(id="kept", gender="female"), if_absent=True),
            PendingWrite(patient(id="fresh", gender="female"), if_absent=True),
        ],
    )
    assert [(r.stored.version_id, r.created) for r in results] == [(1, False), (1, False), (1, True)]
    assert _found(engine, "gender=female") == ["fresh"]
    assert _count(engine, "SELECT count(*) FROM resource_history") == 3


@pytest.mark.parametrize(
    ("write", "error"),
    [
        (PendingWrite({"resourceType": "Patient", "id": "bad", "birthDate": "yesterday"}), InvalidResource),
        (PendingWrite(patient(id="exists"), new=True), Conflict),
        (PendingWrite(patient(id="exists"), if_match=7), PreconditionFailed),
        (PendingWrite(patient(id="absent"), if_match=1), PreconditionFailed),
    ],
)
def test_a_refused_write_names_its_position_and_nothing_is_kept(
    engine: Engine, write: PendingWrite, error: type
) -> None:
    _write(engine, [PendingWrite(patient(id="exists"))])
    with pytest.raises(BatchWriteFailed) as failed:
        _write(engine, [PendingWrite(patient(id="ok1")), write, PendingWrite(patient(id="ok2"))])
    assert failed.value.position == 1
    assert isinstance(failed.value.error, error)
    assert _count(engine, "SELECT count(*) FROM resource") == 1
    assert _count(engine, "SELECT count(*) FROM spidx_token WHERE resource_pk NOT IN (SELECT pk FROM resource)") == 0


def test_writes_that_keep_the_stored_version_are_validated_only_when_stored(engine: Engine) -> None:
    _write(engine, [PendingWrite(patient(id="known"))])
    invalid = {"resourceType": "Patient", "birthDate": "yesterday"}
    kept = _write(engine, [PendingWrite({**invalid, "id": "known"}, if_absent=True)])
    assert kept[0].stored.version_id == 1 and not kept[0].created
    with pytest.raises(BatchWriteFailed) as failed:
        _write(engine, [PendingWrite(patient(id="x")), PendingWrite({**invalid, "id": "unknown"}, if_absent=True)])
    assert failed.value.position == 1 and isinstance(failed.value.error, InvalidResource)
    assert _count(engine, "SELECT count(*) FROM resource") == 1


@pytest.mark.parametrize("family", ['O"Brien', "back\\slash", "{braces},comma", "NULL", "ünï cödé ✓", " spaced "])
def test_index_values_with_array_syntax_characters_round_trip(engine: Engine, family: str) -> None:
    _write(engine, [PendingWrite(patient(id="odd", name=[{"family": family}]))])
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT exact FROM spidx_string WHERE param = 'family'")).scalars().all()
    assert stored == [family]


def test_concurrent_batches_creating_the_same_ids_in_opposite_orders_both_succeed(engine: Engine) -> None:
    import threading

    ids = [f"shared-{n}" for n in range(20)]
    errors: list[BaseException] = []

    def writer(order: list[str]) -> None:
        try:
            for _ in range(5):
                _write(engine, [PendingWrite(patient(id=i), skip_unchanged=True) for i in order])
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (ids, list(reversed(ids)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _count(engine, "SELECT count(*) FROM resource") == 20
    assert _count(engine, "SELECT max(version_id) FROM resource") == 1
