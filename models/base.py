"""Declarative base shared by every table, with stable constraint names for Alembic."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, MetaData, String, Table
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeEngine

#: Constraint names Alembic can rely on, identical on PostgreSQL and SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit surrogate key; SQLite only auto-increments an ``INTEGER PRIMARY KEY``.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")

intpk = Annotated[int, mapped_column(BigIntKey, primary_key=True, autoincrement=True)]
resource_type = Annotated[str, mapped_column(String(64))]
#: FHIR ids are at most 64 characters of ``[A-Za-z0-9\-.]``.
fhir_id = Annotated[str, mapped_column(String(64))]
#: Accepted resource JSON, stored as the exact bytes served on read.
json_bytes = Annotated[bytes, mapped_column(LargeBinary())]


class Base(DeclarativeBase):
    """Base class of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[type, TypeEngine[Any]]] = {datetime: DateTime(timezone=True)}
    # Declarative types ``__table__`` as any FromClause (a class may be mapped to a
    # subquery), but every model here declares ``__tablename__``, so it is a Table:
    # statements and the index writer rely on ``.name``, ``insert()`` and ``delete()``.
    __table__: ClassVar[Table]
