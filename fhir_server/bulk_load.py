"""``fhir-server load``: files into the repository, in parallel where that is safe.

Transaction and batch Bundles go through :func:`process_bundle`, exactly as
``POST [base]`` does (conditional references, ``ifNoneExist``, ``urn:uuid``
links), except that a POST entry with a ``urn:uuid:`` fullUrl keeps that UUID as
its id, so loading a file twice stores nothing new. NDJSON lines and single
resources are stored in transactions of :data:`BATCH` resources, those with an
id as updates that keep the version when the content is unchanged (one without
an id is created anew on every load); when one fails, its resources are retried
one by one so the report names the failing line, which is skipped.

Files are spread over a process pool, each process with its own engine, on
PostgreSQL; SQLite allows one writer at a time, so there it loads in-process.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from fhir_server.audit.activity import record_import, record_import_refused
from fhir_server.config import load_settings
from fhir_server.db import unit_of_work
from fhir_server.errors import EntryFailed, FhirError, InvalidResource
from fhir_server.import_report import ImportReport, Problem
from fhir_server.loader import BundleGroup, LoadError, LoadItem, read_groups
from fhir_server.quality.imports import clean_for_import
from fhir_server.repository import SqlRepository
from fhir_server.repository._batch_write import BatchWriteFailed, PendingWrite
from fhir_server.repository.bundle_processor import BundleOptions, process_bundle
from fhir_server.repository.context import RequestContext
from fhir_server.state import ServerState
from fhir_server.warmup import prepare_process

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Resources per database transaction for NDJSON lines and single resources.
BATCH = 500
_LOCAL_BASE = "http://localhost/fhir"
#: The AuditEvent subtype of what ``fhir-server load`` stores.
_ACTIVITY = "cli-load"
_state: ServerState | None = None


@dataclass
class FileResult:
    """What loading one file did."""

    path: Path
    stored: int = 0
    #: What was skipped: lines, entries, Bundles or the whole file.
    failures: list[Problem] = field(default_factory=list)
    #: Units coded in UCUM and impossible values withheld (:mod:`fhir_server.quality.imports`).
    notes: ImportReport = field(default_factory=ImportReport)

    def skip(self, error: LoadError) -> None:
        """Record a line, entry or file that could not be loaded."""
        self.failures.append(Problem(error.file, error.where, error.reason, error.detail))

    def clean(self, resource: dict[str, Any], file: str, where: str | None) -> None:
        """Clean one resource before it is stored, noting what changed."""
        cleaning = clean_for_import(resource)
        for sentence in cleaning.units:
            self.notes.normalise(file, where, sentence)
        if cleaning.withheld is not None:
            self.notes.flag(file, where, cleaning.withheld)


def default_jobs(database_url: str) -> int:
    """Processes to load with: one per core on PostgreSQL, one on SQLite (a single writer)."""
    return 1 if make_url(database_url).get_backend_name() == "sqlite" else os.cpu_count() or 1


def load_files(files: list[Path], jobs: int, on_result: Callable[[FileResult], None]) -> None:
    """Load ``files``, calling ``on_result`` as each one finishes (in the calling process)."""
    if jobs <= 1:
        state = ServerState.from_settings(load_settings())
        prepare_process()
        try:
            for path in files:
                on_result(load_file(path, state))
        finally:
            state.engine.dispose()
        return
    with ProcessPoolExecutor(jobs, initializer=_init_worker) as pool:
        for result in pool.map(load_file, files, chunksize=1):
            on_result(result)


def _init_worker() -> None:
    global _state  # noqa: PLW0603 - the pool worker's own state, set once by its initializer
    _state = ServerState.from_settings(load_settings())
    # Definitions, registry and extraction plans loaded once and frozen, as in serving
    # processes: a full garbage collection then no longer walks them (measured: 15 % less CPU per resource).
    prepare_process()


def load_file(path: Path, state: ServerState | None = None) -> FileResult:
    """Store everything in one file; failures are collected, never raised.

    :param state: the engine to use; a pool worker's own when not given.
    """
    state = state or _state
    assert state is not None, "pool workers set their state in _init_worker"
    result = FileResult(path)
    pending: list[LoadItem] = []
    try:
        for group in read_groups(path):
            if isinstance(group, LoadError):
                result.skip(group)
            elif isinstance(group, BundleGroup):
                for index, entry in enumerate(group.bundle.get("entry") or ()):
                    if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                        result.clean(entry["resource"], group.origin, f"entry {index}")
                _store_bundle(state, group, result)
            else:
                for item in group:
                    result.clean(item.resource, item.file, item.where)
                pending += group
                if len(pending) >= BATCH:
                    _store_items(state, pending, result)
                    pending = []
        _store_items(state, pending, result)
    except LoadError as exc:
        result.skip(exc)
    return result


def _store_bundle(state: ServerState, group: BundleGroup, result: FileResult) -> None:
    base = state.settings.base_url or _LOCAL_BASE
    options = BundleOptions(base_url=base, prefer_return="minimal", ids_from_uuid=True)
    try:
        with unit_of_work(state.sessions) as session:
            response = process_bundle(SqlRepository(session, RequestContext(actor="cli-load")), group.bundle, options)
            _audit_bundle(session, group, response)
    except FhirError as exc:
        record_import_refused(state.sessions, _ACTIVITY, _resources(group), source=group.origin, why=exc.diagnostics)
        # A transaction is the unit: nothing of it was stored; the error names the entry at fault.
        where = f"entry {exc.index}" if isinstance(exc, EntryFailed) else None
        reason = "transaction failed" if group.bundle.get("type") == "transaction" else "Bundle refused"
        result.skip(LoadError(group.origin, exc.diagnostics, where=where, reason=reason))
        return
    for index, entry in enumerate(response["entry"]):
        outcome = entry["response"].get("outcome")
        if outcome is not None:  # a failed batch entry
            detail = outcome["issue"][0]["diagnostics"]
            result.skip(LoadError(group.origin, detail, where=f"entry {index}", reason="batch entry failed"))
        elif entry["response"]["status"][:1] == "2":
            result.stored += 1


def _store_items(state: ServerState, items: list[LoadItem], result: FileResult) -> None:
    if not items:
        return
    try:
        result.stored += _write(state, items)
    except LoadError as exc:
        if len(items) == 1:
            record_import_refused(state.sessions, _ACTIVITY, [items[0].resource], source=items[0].file, why=str(exc))
            result.skip(exc)
            return
        for item in items:  # isolate the failing resource; the others still load
            try:
                result.stored += _write(state, [item])
            except LoadError as exc:
                record_import_refused(state.sessions, _ACTIVITY, [item.resource], source=item.file, why=str(exc))
                result.skip(exc)


def _write(state: ServerState, items: list[LoadItem]) -> int:
    writes = [
        # The same line loaded again keeps its version: a re-run stores nothing new.
        PendingWrite(item.resource, skip_unchanged=True)
        if item.resource.get("id")
        else PendingWrite({**item.resource, "id": str(uuid.uuid4())}, method="POST", new=True)
        for item in items
    ]
    with unit_of_work(state.sessions) as session:
        try:
            SqlRepository(session, RequestContext(actor="cli-load")).write_many(writes)
        except BatchWriteFailed as exc:
            item = items[exc.position]
            reason = "invalid resource" if isinstance(exc.error, InvalidResource) else "refused by the repository"
            raise LoadError(item.file, exc.error.diagnostics, where=item.where, reason=reason) from exc
        # One AuditEvent per transaction, committed with it.
        record_import(session, _ACTIVITY, [write.resource for write in writes], source=items[0].file)
    return len(items)


def _resources(group: BundleGroup) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in group.bundle.get("entry") or () if isinstance(entry.get("resource"), dict)]


def _audit_bundle(session: Session, group: BundleGroup, response: dict[str, Any]) -> None:
    """The AuditEvent of a Bundle stored: what it holds, how many entries were stored, the Patients it created."""
    answers = [entry["response"] for entry in response["entry"]]
    # POST entries get their ids only now: the Patients created are named by their locations.
    created = [str(a["location"]).split("/")[1] for a in answers if str(a.get("location", "")).startswith("Patient/")]
    resources = _resources(group)
    stored = sum(str(a.get("status", ""))[:1] == "2" for a in answers)
    description = f"Stored {stored} of {len(resources)} Bundle entries from {group.origin}."
    record_import(session, _ACTIVITY, resources, source=group.origin, description=description, patients=created)
