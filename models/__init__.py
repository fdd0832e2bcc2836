"""SQLAlchemy 2 typed ORM tables of the FHIR server.

Every table is created by Alembic migrations (``alembic/versions``), never by
``metadata.create_all``, so PostgreSQL and SQLite get the same schema history.
"""

from __future__ import annotations

from models.audit import AuditOutbox
from models.auth import (
    AuthAssertionJti,
    AuthClient,
    AuthCode,
    AuthLaunch,
    AuthRevokedToken,
    AuthSecret,
    AuthSigningKey,
    AuthUser,
)
from models.base import Base
from models.dicom import DicomInstance
from models.hl7v2 import Hl7v2Message
from models.resource import ResourceHistory, ResourceRow
from models.search import (
    INDEX_TABLES,
    SpidxComposite,
    SpidxDate,
    SpidxDateSort,
    SpidxNumber,
    SpidxQuantity,
    SpidxReference,
    SpidxString,
    SpidxToken,
    SpidxUri,
)

__all__ = [
    "INDEX_TABLES",
    "AuditOutbox",
    "AuthAssertionJti",
    "AuthClient",
    "AuthCode",
    "AuthLaunch",
    "AuthRevokedToken",
    "AuthSecret",
    "AuthSigningKey",
    "AuthUser",
    "Base",
    "DicomInstance",
    "Hl7v2Message",
    "ResourceHistory",
    "ResourceRow",
    "SpidxComposite",
    "SpidxDate",
    "SpidxDateSort",
    "SpidxNumber",
    "SpidxQuantity",
    "SpidxReference",
    "SpidxString",
    "SpidxToken",
    "SpidxUri",
]
