"""The audit outbox: the durable queue between an access and its AuditEvent resource.

Every audited path (REST requests, the adapters, the ML module, the CLI) puts its
AuditEvents here with :func:`enqueue`, on a connection it already holds; the
drain (:mod:`fhir_server.audit.drain`) turns rows into stored, searchable
AuditEvents off the caller's critical path. A row is durable once its
transaction commits, so no access goes unaudited if the process dies afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert

from models import AuditOutbox

_INSERT = insert(AuditOutbox)


def enqueue(connection: Connection, events: Sequence[dict[str, Any]]) -> None:
    """Queue ``events`` (AuditEvent resources) in the caller's transaction on ``connection``."""
    if not events:
        return
    now = datetime.now(UTC)
    connection.execute(_INSERT, [{"recorded": now, "event": orjson.dumps(event)} for event in events])


@dataclass(slots=True, eq=False)
class _Pending:
    event: dict[str, Any]
    done: bool = False
    error: BaseException | None = None


class GroupWriter:
    """Writes AuditEvents that request threads record, several per INSERT; each caller waits for its row.

    A request's response leaves only once its row is committed (the recorder's promise), but the
    threads of one process need not each pay a statement: whoever finds no INSERT in flight writes
    everything queued so far, its own event included, while the others wait (group commit). One
    request alone costs what a single INSERT costs; concurrent ones share statements.
    """

    def __init__(self, engine: Engine) -> None:
        #: Where rows go: the autocommit engine (:func:`fhir_server.db.make_autocommit_engine`).
        self._engine = engine
        self._ready = threading.Condition()
        self._queue: list[_Pending] = []
        self._writing = False

    def write(self, event: dict[str, Any]) -> None:
        """Return once ``event`` is in the outbox; :raises: what the INSERT raised."""
        mine = _Pending(event)
        with self._ready:
            self._queue.append(mine)
            while not mine.done and self._writing:
                self._ready.wait()
            if mine.done:
                if mine.error is not None:
                    raise mine.error
                return
            batch, self._queue, self._writing = self._queue, [], True
        error: BaseException | None = None
        try:
            with self._engine.begin() as connection:
                enqueue(connection, [pending.event for pending in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
            error = exc
        with self._ready:
            for pending in batch:
                pending.done, pending.error = True, error
            self._writing = False
            self._ready.notify_all()
        if error is not None:
            raise error
