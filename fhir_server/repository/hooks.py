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

Type watchers (:func:`watch_type`) are for process-wide machinery that must
follow one rare resource type for the life of the process (SearchParameter
writes change the search registry, :mod:`.registry_sync`). They get the
committing session too, and writes of other types still record nothing while
no general listener is registered.
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

__all__ = [
    "WriteNote",
    "add_listener",
    "listener_count",
    "record_write",
    "remove_listener",
    "unwatch_type",
    "watch_type",
]

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
#: Resource type to the watchers of its writes.
_watchers: dict[str, list[Callable[[Session, Sequence[WriteNote]], None]]] = {}
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
    """Return how many listeners are registered (type watchers not counted)."""
    return len(_listeners)


def watch_type(resource_type: str, watcher: Callable[[Session, Sequence[WriteNote]], None]) -> None:
    """Call ``watcher`` with the session and its notes of ``resource_type`` after each commit that wrote one."""
    with _lock:
        _watchers.setdefault(resource_type, []).append(watcher)


def unwatch_type(resource_type: str, watcher: Callable[[Session, Sequence[WriteNote]], None]) -> None:
    """Stop calling ``watcher``; unknown watchers are ignored."""
    with _lock:
        watchers = _watchers.get(resource_type, [])
        if watcher in watchers:
            watchers.remove(watcher)
        if not watchers:
            _watchers.pop(resource_type, None)


def record_write(
    session: Session, resource_type: str, resource_id: str, version_id: int, resource: dict[str, Any] | None
) -> None:
    """Note a write in ``session``'s transaction, to be announced after it commits."""
    if not _listeners and resource_type not in _watchers:
        return
    session.info.setdefault(_PENDING, []).append(WriteNote(resource_type, resource_id, version_id, resource))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    notes: list[WriteNote] | None = session.info.pop(_PENDING, None)
    if not notes:
        return
    with _lock:
        listeners = list(_listeners)
        watched = {resource_type: list(watchers) for resource_type, watchers in _watchers.items()}
    calls: list[tuple[Callable[..., None], tuple[Any, ...]]] = [(listener, (notes,)) for listener in listeners]
    for resource_type, watchers in watched.items():
        mine = [note for note in notes if note.resource_type == resource_type]
        calls += [(watcher, (session, mine)) for watcher in watchers if mine]
    for call, args in calls:
        try:
            call(*args)
        except Exception:  # noqa: BLE001 - logged: the write is already durable; never fail it afterwards
            _log.exception("After-commit listener %r failed", call)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
