"""The audit outbox: every access is recorded here before its response is sent.

A row holds a finished AuditEvent resource (JSON). A background drain stores
the rows as AuditEvent resources through the repository (so they are versioned,
indexed and searchable like any resource) and deletes them, in one transaction.
Rows survive a crash of the server process, so no access goes unaudited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk


class AuditOutbox(Base):
    """One recorded access, waiting to become an AuditEvent resource."""

    __tablename__ = "audit_outbox"

    pk: Mapped[intpk]
    recorded: Mapped[datetime]
    #: The AuditEvent resource, with its id, as JSON.
    event: Mapped[bytes] = mapped_column(LargeBinary())
