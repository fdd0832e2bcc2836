"""The audit outbox: the durable queue between an access and its AuditEvent resource.

Every audited path (REST requests, the adapters, the ML module, the CLI) puts its
AuditEvents here with :func:`enqueue`, on a connection it already holds; the
drain (:mod:`fhir_server.audit.drain`) turns rows into stored, searchable
AuditEvents off the caller's critical path. A row is durable once its
transaction commits, so no access goes unaudited if the process dies afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert

from models import AuditOutbox

_INSERT = insert(AuditOutbox)


def enqueue(connection: Connection, events: Sequence[dict[str, Any]]) -> None:
    """Queue ``events`` (AuditEvent resources) in the caller's transaction on ``connection``."""
    if not events:
        return
    now = datetime.now(UTC)
    connection.execute(_INSERT, [{"recorded": now, "event": orjson.dumps(event)} for event in events])
