"""SQLAlchemy 2 typed ORM tables of the FHIR server.

Every table is created by Alembic migrations (``alembic/versions``), never by
``metadata.create_all``, so PostgreSQL and SQLite get the same schema history.
"""

from __future__ import annotations

from models.base import Base
from models.resource import ResourceHistory, ResourceRow

__all__ = ["Base", "ResourceHistory", "ResourceRow"]
