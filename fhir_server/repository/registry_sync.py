"""Every process's search registry, kept in step with the SearchParameter resources stored.

gunicorn workers, ``hl7 listen``, ``load`` and ``reindex`` are separate
processes, each with its own registry; a SearchParameter written through any of
them must be indexed and searchable in all of them.

* **Snapshots.** A database's registry is the official one extended with its
  active custom SearchParameters (:mod:`fhir_server.search.custom_params`),
  built whole and swapped in at once. A repository takes the snapshot current
  when it is made, so one request indexes and searches with one set.
* **Marker.** ``(count, max pk)`` of the SearchParameter rows of
  ``resource_history``: each committed create, update or delete of one adds a
  row, so the pair changes with every such commit, in whatever order
  concurrent writers commit (the max alone would miss a lower key committed
  late). One index-only query on ``ix_resource_history_type_pk``; no table,
  no migration, nothing more to write.
* **When.** At most every :data:`CHECK_INTERVAL` seconds per process and
  database, when a repository is made; at once after this process commits a
  SearchParameter write (a :func:`hooks.watch_type` watcher); and before a
  custom SearchParameter is accepted, so its clashes are checked against what
  is committed. Elsewhere a change is seen within the interval.
* **Cost.** Between checks, a repository pays a clock read and a dictionary
  lookup (0.3 µs); a check costs one round trip (63 µs on SQLite, 0.25 ms on
  PostgreSQL), so about 3 µs a request at 100 requests/s per process
  (``bench/bench_registry_sync.py``, ``docs/benchmarks.md``).

The check uses its own pooled connection, never the caller's session: a read on
the session would open its transaction before :func:`begin_write` and cost a
SQLite writer its ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import false, func, select
from sqlalchemy.exc import DBAPIError, UnboundExecutionError

from conformance.issues import ValidationIssue
from conformance.search_parameters import UnusableSearchParameter, default_registry
from fhir_server.repository import hooks
from fhir_server.search.custom_params import (
    CustomParameters,
    build_custom_parameters,
    conflict,
    is_custom,
    usable_definition,
)
from models import ResourceHistory, ResourceRow

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from conformance.search_parameters import SearchRegistry

__all__ = ["CHECK_INTERVAL", "custom_parameters", "registry_for", "search_parameter_issues"]

#: Seconds between two checks of the marker by one process, per database.
CHECK_INTERVAL = 1.0
_TYPE = "SearchParameter"
_log = logging.getLogger(__name__)
_history = ResourceHistory.__table__
_resource = ResourceRow.__table__
_MARKER = select(func.count(), func.max(_history.c.pk)).where(_history.c.resource_type == _TYPE)
_STORED = (
    select(_resource.c.fhir_id, _resource.c.content)
    .where(_resource.c.resource_type == _TYPE, _resource.c.deleted == false())
    .order_by(_resource.c.pk)
)


@dataclass(eq=False, slots=True)
class _Sync:
    """One database's snapshot in this process."""

    custom: CustomParameters
    marker: tuple[Any, ...]
    #: ``time.monotonic()`` after which the marker is read again.
    next_check: float


_syncs: WeakKeyDictionary[Engine, _Sync] = WeakKeyDictionary()
_lock = threading.Lock()


def registry_for(session: Session) -> SearchRegistry:
    """Return the search registry of ``session``'s database: the official one plus its custom parameters.

    Unbound sessions get the official registry.
    """
    engine = _engine_of(session)
    return default_registry() if engine is None else custom_parameters(engine).registry


def custom_parameters(engine: Engine, *, fresh: bool = False) -> CustomParameters:
    """Return the snapshot of ``engine``'s database, reading the marker if it is due.

    :param fresh: read the marker now, whenever it was last read.
    :raises sqlalchemy.exc.DBAPIError: when the first read fails; later failures keep the last snapshot.
    """
    sync = _syncs.get(engine)
    now = time.monotonic()
    if sync is not None and not fresh and now < sync.next_check:
        return sync.custom
    if sync is not None:
        sync.next_check = now + CHECK_INTERVAL  # other threads keep using this snapshot meanwhile
    with _lock:
        latest = _syncs.get(engine)
        if latest is not sync and latest is not None:
            return latest.custom  # another thread read the marker while this one waited
        return _refresh(engine, sync)


def _refresh(engine: Engine, sync: _Sync | None) -> CustomParameters:
    try:
        with engine.connect() as connection:
            marker = tuple(connection.execute(_MARKER).one())
            if sync is not None and marker == sync.marker:
                return sync.custom
            rows = connection.execute(_STORED).all()
    except DBAPIError:
        if sync is None:
            raise
        _log.warning("Could not check for SearchParameter changes; searching with the last known set.", exc_info=True)
        return sync.custom
    custom = build_custom_parameters(((row.fhir_id, orjson.loads(row.content)) for row in rows), default_registry())
    for problem in custom.problems:
        _log.warning(problem)
    _syncs[engine] = _Sync(custom, marker, time.monotonic() + CHECK_INTERVAL)
    return custom


def search_parameter_issues(
    session: Session, resource: dict[str, Any], found: Sequence[ValidationIssue] = ()
) -> list[ValidationIssue]:
    """Why a custom SearchParameter cannot be stored; empty when it can or is not custom.

    :param found: the issues structural validation already found; with an error among them, nothing more is checked.
    """
    if any(issue.is_error for issue in found) or not is_custom(resource):
        return []
    engine = _engine_of(session)
    custom = custom_parameters(engine, fresh=True) if engine is not None else None
    registry = custom.registry if custom is not None else default_registry()
    try:
        spec = usable_definition(resource, registry)
    except UnusableSearchParameter as exc:
        return [ValidationIssue("error", "invalid", str(exc), exc.element)]
    if custom is None or resource.get("status") != "active":
        return []
    clash = conflict(spec, resource.get("id"), custom.owners)
    return [ValidationIssue("error", "duplicate", clash, "SearchParameter.code")] if clash else []


def _engine_of(session: Session) -> Engine | None:
    bind = session.bind
    if bind is None:
        try:
            bind = session.get_bind()
        except UnboundExecutionError:
            return None
    return bind.engine


def _after_commit(session: Session, _notes: Sequence[hooks.WriteNote]) -> None:
    """This process wrote a SearchParameter: read the marker on the next repository, not a second later."""
    engine = _engine_of(session)
    sync = _syncs.get(engine) if engine is not None else None
    if sync is not None:
        sync.next_check = 0.0


hooks.watch_type(_TYPE, _after_commit)
