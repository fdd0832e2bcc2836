"""The REST layer's audit writer: every recorded event reaches the outbox before its caller goes on,
and concurrent callers share INSERT statements."""

from __future__ import annotations

import threading

import orjson
from sqlalchemy import Engine, event, select

from fhir_server.audit.outbox import GroupWriter
from fhir_server.db import make_autocommit_engine, make_engine
from models import AuditOutbox


def _stored(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return sorted(orjson.loads(row.event)["n"] for row in connection.execute(select(AuditOutbox.event)))


def test_each_write_is_in_the_outbox_when_it_returns(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        writer = GroupWriter(make_autocommit_engine(engine))
        for n in range(3):
            writer.write({"resourceType": "AuditEvent", "n": n})
            assert _stored(engine) == list(range(n + 1))
    finally:
        engine.dispose()


def test_concurrent_writers_share_statements_and_none_is_lost(database_url: str) -> None:
    engine = make_engine(database_url)
    autocommit = make_autocommit_engine(engine)
    inserts: list[str] = []
    gate = threading.Event()

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_OUTBOX"):
            inserts.append(statement)
            gate.wait(0.05)  # hold the first INSERT a moment so the others queue behind it

    event.listen(autocommit, "before_cursor_execute", count)
    writer = GroupWriter(autocommit)
    threads = [threading.Thread(target=writer.write, args=({"resourceType": "AuditEvent", "n": n},)) for n in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert _stored(engine) == list(range(16))
        assert 1 <= len(inserts) < 16  # statements carried several events each
    finally:
        engine.dispose()


def test_a_failed_insert_is_raised_to_every_caller_of_its_batch(database_url: str) -> None:
    engine = make_engine(database_url)
    autocommit = make_autocommit_engine(engine)

    def refuse(*_: object) -> None:
        raise RuntimeError("the database refused the audit row")

    event.listen(autocommit, "before_cursor_execute", refuse)
    writer = GroupWriter(autocommit)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            writer.write({"resourceType": "AuditEvent", "n": n})
        except RuntimeError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(failures) == 8  # nobody goes on as if its access were recorded
        event.remove(autocommit, "before_cursor_execute", refuse)
        assert _stored(engine) == []
    finally:
        engine.dispose()
