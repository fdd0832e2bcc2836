"""Typed search-index tables, one per parameter type (HAPI/Microsoft style).

Rows are extracted at write time from the current version of each resource and
replaced on every update; a deleted resource has none. Each row carries the
resource's type and the parameter code so a search is an index range scan on
(type, param, value...) ending in ``resource_pk``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntKey, intpk, resource_type

#: Index values are cut to this many characters (as HAPI does) so btree entries stay small.
MAX_INDEXED_LENGTH = 200
#: Search parameter codes: custom parameters may be longer than the standard ones.
param_code = String(100)


def _owner() -> Mapped[int]:
    # The key of the resource row; deliberately not a foreign key (migration 0008): only
    # the repository writes index rows, with their resource, and resource rows are never
    # deleted, while the key's check was a trigger per index row.
    return mapped_column(BigIntKey)


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


#: The widest span (one day, a date's precision) in the short-span sort indexes: for those rows a
#: bound on ``low`` bounds ``high`` too, within this many seconds.
SHORT_SPAN_SECONDS = 86400
#: ``span_seconds`` of a resource with several values of the parameter (``NULL``: none).
SEVERAL_VALUES = -1


def short_span_predicate(exact: bool) -> str:
    """The partial-index predicate of the exact rows (or of the others); ``sort_bounds._exact`` states it in queries.

    Exact rows are those of a resource with one value of the parameter spanning at
    most :data:`SHORT_SPAN_SECONDS`: the row is that value. Rows of resources without
    a value (``NULL``) are in neither: no date criterion can match them.
    """
    if exact:
        return f"(span_seconds >= 0 AND span_seconds <= {SHORT_SPAN_SECONDS})"
    return f"(span_seconds < 0 OR span_seconds > {SHORT_SPAN_SECONDS})"


def _short(exact: bool) -> dict[str, Any]:
    predicate = text(short_span_predicate(exact))
    return {"postgresql_where": predicate, "sqlite_where": predicate}


class SpidxDateSort(Base):
    """One row per resource and date parameter: the span of its values, the ``_sort`` key.

    Resources without a value get a row with the lowest-instant sentinel, so the
    sort is an inner join on one row and the (type, param, low|high) indexes give
    rows in date order. The partial ``exact``/``other`` indexes split rows by
    ``span_seconds`` so a date range on the sorted parameter bounds both ends of
    the walk over nearly all rows (:mod:`fhir_server.search.sort_bounds`).
    """

    __tablename__ = "spidx_date_sort"
    __table_args__ = (
        Index("ix_spidx_date_sort_low", "resource_type", "param", "low", "resource_pk"),
        Index("ix_spidx_date_sort_high", "resource_type", "param", "high", "resource_pk"),
        Index("ix_spidx_date_sort_resource_pk", "resource_pk"),
        Index("ix_spidx_date_sort_exact_low", "resource_type", "param", "low", "high", "resource_pk", **_short(True)),
        Index("ix_spidx_date_sort_exact_high", "resource_type", "param", "high", "low", "resource_pk", **_short(True)),
        Index("ix_spidx_date_sort_other_low", "resource_type", "param", "low", "high", "resource_pk", **_short(False)),
        Index("ix_spidx_date_sort_other_high", "resource_type", "param", "high", "low", "resource_pk", **_short(False)),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    low: Mapped[datetime]
    high: Mapped[datetime]
    #: ``high - low`` in seconds, rounded up, when the resource has exactly one value;
    #: :data:`SEVERAL_VALUES` for several, ``NULL`` for none
    #: (:class:`~fhir_server.search.index_values.DateSortValue`).
    span_seconds: Mapped[Decimal | None] = mapped_column(Numeric)


class SpidxComposite(Base):
    """``composite`` values: one row per combination of component values from one element.

    The components of a search value must all match one row, which is what makes
    ``component-code-value-quantity`` find the code and the value in the *same*
    ``Observation.component`` (http://hl7.org/fhir/R4/search.html#composite).
    Columns are grouped in *slots*, one per component (:data:`COMPOSITE_SLOTS`); each
    slot holds exactly the columns the plain parameter's conditions read, so the
    planner reuses those conditions unchanged. Unused slots are ``NULL``.
    """

    __tablename__ = "spidx_composite"
    __table_args__ = (
        Index("ix_spidx_composite_lookup", "resource_type", "param", "token1_code", "token1_system", "resource_pk"),
        Index("ix_spidx_composite_resource_pk", "resource_pk"),
    )

    pk: Mapped[intpk]
    resource_pk: Mapped[int] = _owner()
    resource_type: Mapped[resource_type]
    param: Mapped[str] = mapped_column(param_code)
    token1_system: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    token1_code: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    token2_system: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    token2_code: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    number1: Mapped[Decimal | None] = mapped_column(Numeric)
    number2: Mapped[Decimal | None] = mapped_column(Numeric)
    quantity_value: Mapped[Decimal | None] = mapped_column(Numeric)
    quantity_system: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    quantity_code: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    quantity_unit: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    date_low: Mapped[datetime | None]
    date_high: Mapped[datetime | None]
    string: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    reference_type: Mapped[str | None] = mapped_column(String(64))
    reference_id: Mapped[str | None] = mapped_column(String(64))
    reference_url: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))
    reference_version: Mapped[str | None] = mapped_column(String(64))
    uri: Mapped[str | None] = mapped_column(String(MAX_INDEXED_LENGTH))


#: Per component type, the slots of ``spidx_composite`` in the order components take them,
#: each mapping a column of the plain table (``spidx_token.code``...) to the composite's.
#: A composite with more components of one type than there are slots is not indexed.
COMPOSITE_SLOTS: dict[str, tuple[dict[str, str], ...]] = {
    "token": (
        {"system": "token1_system", "code": "token1_code"},
        {"system": "token2_system", "code": "token2_code"},
    ),
    "number": ({"value": "number1"}, {"value": "number2"}),
    "quantity": (
        {"value": "quantity_value", "system": "quantity_system", "code": "quantity_code", "unit": "quantity_unit"},
    ),
    "date": ({"low": "date_low", "high": "date_high"},),
    "string": ({"normalized": "string"},),
    "reference": (
        {
            "target_type": "reference_type",
            "target_id": "reference_id",
            "url": "reference_url",
            "version": "reference_version",
        },
    ),
    "uri": ({"uri": "uri"},),
}


#: Every index table, in the order writes touch them.
INDEX_TABLES = (
    SpidxString,
    SpidxToken,
    SpidxDate,
    SpidxNumber,
    SpidxQuantity,
    SpidxReference,
    SpidxUri,
    SpidxDateSort,
    SpidxComposite,
)
