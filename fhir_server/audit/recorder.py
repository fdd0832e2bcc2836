"""Records every REST request in the audit outbox, before the response leaves the server.

The row is written by the process's :class:`~fhir_server.audit.outbox.GroupWriter` on the
autocommit engine (:func:`fhir_server.db.make_autocommit_engine`): on PostgreSQL one round
trip, shared by the requests that record at the same moment, committed without waiting for
the WAL flush, so the row is safe once the database has it, whatever happens to this
process, and the request does not pay a disk flush. Turning a row into a stored AuditEvent
(indexing) is the drain's work, off the request path.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, g, request

from fhir_server.audit.events import Access, audit_event

_log = logging.getLogger(__name__)


def _interaction() -> str:
    from fhir_server.rest.routes import ROUTES

    endpoint = (request.endpoint or "").rpartition("_")[2]
    if endpoint.isdigit() and int(endpoint) < len(ROUTES):
        return ROUTES[int(endpoint)].interaction
    return "operation"


def _record(response: Response) -> Response:
    from fhir_server.rest.request_scope import release_session, server_state

    state = server_state()
    if state.auth is None or request.method == "OPTIONS":
        return response  # an open server has no one to attribute accesses to; preflights touch no data
    # The view is done (and has committed what it wrote): end its transaction first, so the
    # record never waits on the request's own locks (SQLite has one writer at a time).
    release_session()
    context = g.get("request_context")
    args = request.view_args or {}
    interaction = _interaction()
    resource_type = args.get("resource_type")
    if interaction == "transaction":
        resource_type = "Bundle"
    patient = getattr(context, "patient", None)
    if patient is None and args.get("compartment_type") == "Patient":
        patient = args.get("compartment_id")
    if patient is None and resource_type == "Patient":
        patient = args.get("resource_id")
    access = Access(
        interaction=interaction,
        status=response.status_code,
        recorded=datetime.now(UTC),
        who=getattr(context, "actor", None) if getattr(context, "client_id", None) else None,
        client_id=getattr(context, "client_id", None),
        fhir_user=getattr(context, "fhir_user", None),
        source_address=request.remote_addr,
        resource_type=resource_type,
        resource_id=args.get("resource_id"),
        patient=patient,
        query=request.query_string.decode(errors="replace") or None,
    )
    event = audit_event(access, server=request.host_url.rstrip("/"))
    assert state.audit_writer is not None  # built whenever auth is on
    state.audit_writer.write(event)
    return response


def register_audit(blueprint: Blueprint) -> None:
    """Audit every request to ``blueprint``."""
    blueprint.after_request(_record)
