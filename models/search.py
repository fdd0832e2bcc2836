"""Typed search-index tables, one per parameter type (HAPI/Microsoft style).

Rows are extracted at write time from the current version of each resource and
replaced on every update; a deleted resource has none. Each row carries the
resource's type and the parameter code so a search is an index range scan on
(type, param, value...) ending in ``resource_pk``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntKey, intpk, resource_type

#: Index values are cut to this many characters (as HAPI does) so btree entries stay small.
MAX_INDEXED_LENGTH = 200
#: Search parameter codes: custom parameters may be longer than the standard ones.
param_code = String(100)


def _owner() -> Mapped[int]:
    return mapped_column(BigIntKey, ForeignKey("resource.pk", ondelete="CASCADE"))


class SpidxString(Base):
    """``string`` values: normalized for default/``:contains``, as written for ``:exact``."""

    __tablename__ = "spidx_string"
    __table_args__ = (
        Index(
            "ix_spidx_string_lookup",
            "resource_type",
            "param",
            "normalized",
            "resource_pk",
            postgresql_ops={"normalized": "varchar_pattern_ops"},
        ),
        Index("ix_spidx_string_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    normalized: Mapped[str] = mapped_column(String(MAX_INDEXED_LENGTH))
    exact: Mapped[str] = mapped_column(String(MAX_INDEXED_LENGTH))


class SpidxToken(Base):
    """``token`` values: system and code, plus display text for ``:text`` and identifier type for ``:of-type``."""

    __tablename__ = "spidx_token"
    __table_args__ = (
        Index("ix_spidx_token_lookup", "resource_type", "param", "code", "system", "resource_pk"),
        Index("ix_spidx_token_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    system: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    code: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    text: Mapped[str | None] = mapped_column(Text)
    type_system: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    type_code: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))


class SpidxDate(Base):
    """``date`` values as the closed UTC range they cover; ``None`` is an open end."""

    __tablename__ = "spidx_date"
    __table_args__ = (
        Index("ix_spidx_date_lookup", "resource_type", "param", "low", "high", "resource_pk"),
        Index("ix_spidx_date_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    low: Mapped[datetime | None]
    high: Mapped[datetime | None]


class SpidxNumber(Base):
    """``number`` values with the range their significant digits imply."""

    __tablename__ = "spidx_number"
    __table_args__ = (
        Index("ix_spidx_number_lookup", "resource_type", "param", "value", "resource_pk"),
        Index("ix_spidx_number_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    value: Mapped[Decimal] = mapped_column(Numeric)
    low: Mapped[Decimal] = mapped_column(Numeric)
    high: Mapped[Decimal] = mapped_column(Numeric)


class SpidxQuantity(Base):
    """``quantity`` values: number range plus system, code and unit."""

    __tablename__ = "spidx_quantity"
    __table_args__ = (
        Index("ix_spidx_quantity_lookup", "resource_type", "param", "code", "value", "resource_pk"),
        Index("ix_spidx_quantity_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    value: Mapped[Decimal] = mapped_column(Numeric)
    low: Mapped[Decimal] = mapped_column(Numeric)
    high: Mapped[Decimal] = mapped_column(Numeric)
    system: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    code: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    unit: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))


class SpidxReference(Base):
    """``reference`` values: local ``Type/id`` targets, or absolute/canonical URLs."""

    __tablename__ = "spidx_reference"
    __table_args__ = (
        Index("ix_spidx_reference_lookup", "resource_type", "param", "target_id", "target_type", "resource_pk"),
        Index("ix_spidx_reference_target", "target_type", "target_id"),
        Index("ix_spidx_reference_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    version: Mapped[str | None] = mapped_column(String(64))


class SpidxUri(Base):
    """``uri`` values (and canonical URLs of definitional resources)."""

    __tablename__ = "spidx_uri"
    __table_args__ = (
        Index("ix_spidx_uri_lookup", "resource_type", "param", "uri", "resource_pk"),
        Index("ix_spidx_uri_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    uri: Mapped[str] = mapped_column(String(MAX_INDEXED_LENGTH))


class SpidxDateSort(Base):
    """One row per resource and date parameter: the span of its values, the ``_sort`` key.

    Resources without a value get a row with the lowest-instant sentinel, so the
    sort is an inner join on one row and the (type, param, low|high) indexes give
    rows in date order.
    """

    __tablename__ = "spidx_date_sort"
    __table_args__ = (
        Index("ix_spidx_date_sort_low", "resource_type", "param", "low", "resource_pk"),
        Index("ix_spidx_date_sort_high", "resource_type", "param", "high", "resource_pk"),
        Index("ix_spidx_date_sort_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    low: Mapped[datetime]
    high: Mapped[datetime]


#: Every index table, in the order writes touch them.
INDEX_TABLES = (SpidxString, SpidxToken, SpidxDate, SpidxNumber, SpidxQuantity, SpidxReference, SpidxUri, SpidxDateSort)
