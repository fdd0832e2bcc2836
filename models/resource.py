"""The resource store: one row per logical resource plus one row per version.

``resource`` holds the current version's bytes so a read is one primary-key
lookup; ``resource_history`` keeps every version (deletes included) for vread and
_history. The unique key on (type, id, version) is what makes two concurrent
updates unable to produce the same version number, whatever the isolation level.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, fhir_id, intpk, json_bytes, resource_type


class ResourceRow(Base):
    """The current state of one logical resource."""

    __tablename__ = "resource"
    __table_args__ = (UniqueConstraint("resource_type", "fhir_id"),)

    pk: Mapped[intpk]
    resource_type: Mapped[resource_type]
    fhir_id: Mapped[fhir_id]
    #: Number of the current version; history rows 1..version_id exist.
    version_id: Mapped[int]
    last_updated: Mapped[datetime]
    deleted: Mapped[bool]
    #: JSON of the current version; ``None`` once deleted.
    content: Mapped[json_bytes | None]


class ResourceHistory(Base):
    """One version of one resource, as created, updated or deleted."""

    __tablename__ = "resource_history"
    __table_args__ = (
        UniqueConstraint("resource_type", "fhir_id", "version_id"),
        Index("ix_resource_history_type_pk", "resource_type", "pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = mapped_column(ForeignKey("resource.pk", ondelete="CASCADE"), index=True)
    resource_type: Mapped[resource_type]
    fhir_id: Mapped[fhir_id]
    version_id: Mapped[int]
    last_updated: Mapped[datetime] = mapped_column(index=True)
    #: HTTP verb of the interaction that made this version (POST, PUT, PATCH, DELETE).
    method: Mapped[str] = mapped_column(String(8))
    content: Mapped[json_bytes | None]
