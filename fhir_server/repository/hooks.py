"""After-commit write notifications: a tiny listener registry for the repository.

Some work must follow a write but must not slow it down or run if it rolls
back (re-scoring a patient when a vital sign arrives, in :mod:`ml.auto_risk`).
The repository reports each resource version it writes with
:func:`record_write`; the notes are kept on the SQLAlchemy session
(``session.info``) and handed to every registered listener only after that
session's transaction commits. A rollback drops them. Because the notes ride
on the session, every writer that goes through the repository (REST, HL7 v2,
DICOM, the loader) is covered, whoever owns the session.

Listeners run inside ``Session.commit()``, on the committing thread, after the
database has committed: they must be quick (put work on a queue) and must not
raise; an exception is logged and swallowed so one bad listener cannot fail a
write that is already durable. With no listener registered,
:func:`record_write` returns at once, so the write path pays nothing.

Savepoints: notes recorded inside a rolled-back savepoint are still delivered
when the outer transaction commits; listeners must treat notes as hints
(re-read the data), never as facts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["WriteNote", "add_listener", "listener_count", "record_write", "remove_listener"]

_log = logging.getLogger(__name__)
_PENDING = "fhir_server.repository.hooks.pending"


@dataclass(frozen=True, slots=True)
class WriteNote:
    """One committed write: which version of which resource, and its content."""

    resource_type: str
    resource_id: str
    version_id: int
    #: The stored resource; ``None`` for a delete.
    resource: dict[str, Any] | None


_listeners: list[Callable[[Sequence[WriteNote]], None]] = []
_lock = threading.Lock()


def add_listener(listener: Callable[[Sequence[WriteNote]], None]) -> None:
    """Call ``listener`` with the notes of every transaction that commits from now on."""
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Callable[[Sequence[WriteNote]], None]) -> None:
    """Stop calling ``listener``; unknown listeners are ignored."""
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def listener_count() -> int:
    """Return how many listeners are registered."""
    return len(_listeners)


def record_write(
    session: Session, resource_type: str, resource_id: str, version_id: int, resource: dict[str, Any] | None
) -> None:
    """Note a write in ``session``'s transaction, to be announced after it commits."""
    if not _listeners:
        return
    session.info.setdefault(_PENDING, []).append(WriteNote(resource_type, resource_id, version_id, resource))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    notes: list[WriteNote] | None = session.info.pop(_PENDING, None)
    if not notes:
        return
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(notes)
        except Exception:  # the write is already durable; never fail it afterwards
            _log.exception("After-commit listener %r failed", listener)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
