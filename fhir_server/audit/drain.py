"""Moves recorded accesses from the outbox into AuditEvent resources.

Each batch is stored with the repository's batch write (versioned and indexed
like any resource; not validated again: the events are built by
:mod:`fhir_server.audit` from templates the tests validate) and deleted from the outbox in the same transaction,
so an access is never lost and never stored twice. Several processes may drain
at once: PostgreSQL hands each its own rows (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import logging
import threading

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.db import unit_of_work
from fhir_server.repository import RequestContext, SqlRepository
from fhir_server.repository._batch_write import PendingWrite
from models import AuditOutbox

_log = logging.getLogger(__name__)
BATCH = 500


def drain_once(sessions: sessionmaker[Session], *, limit: int = BATCH) -> int:
    """Store up to ``limit`` outbox rows as AuditEvents; returns how many were stored."""
    with unit_of_work(sessions) as session:
        query = select(AuditOutbox.pk, AuditOutbox.event).order_by(AuditOutbox.pk).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return 0
        repo = SqlRepository(session, RequestContext(actor="audit"))
        repo.write_many(
            [PendingWrite(orjson.loads(row.event), method="POST", new=True, built_by_server=True) for row in rows]
        )
        session.execute(delete(AuditOutbox).where(AuditOutbox.pk.in_([row.pk for row in rows])))
        return len(rows)


def drain_all(sessions: sessionmaker[Session]) -> int:
    """Drain until the outbox is empty (tests, ``fhir-server audit flush``)."""
    total = 0
    while stored := drain_once(sessions):
        total += stored
    return total


def start_background_drain(sessions: sessionmaker[Session], *, interval: float = 0.5) -> threading.Event:
    """Drain every ``interval`` seconds on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            try:
                drain_all(sessions)
            except Exception:  # noqa: BLE001 - the rows stay in the outbox and the next round retries
                _log.exception("Storing audit events failed; they stay queued")

    threading.Thread(target=run, name="audit-drain", daemon=True).start()
    return stop
