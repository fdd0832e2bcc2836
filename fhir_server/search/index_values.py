"""Typed search-index values extracted from a resource at write time.

One class per index table (``spidx_string``, ``spidx_token``...). Extraction
(:mod:`fhir_server.search.extract`) turns a resource into these; the repository
writes them as rows in the same transaction as the resource version, and the
query planner searches the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class StringValue:
    """A ``string`` parameter value (HumanName parts, Address parts, plain strings)."""

    param: str
    #: Lower-cased, accents removed, whitespace collapsed: what default and ``:contains`` match on.
    normalized: str
    #: The value as written: what ``:exact`` matches on.
    exact: str


@dataclass(frozen=True, slots=True)
class TokenValue:
    """A ``token`` value: a Coding/Identifier/ContactPoint/code/boolean."""

    param: str
    system: str | None
    code: str | None
    #: Display or text (Coding.display, CodeableConcept.text, Identifier.type.text), normalized
    #: like StringValue.normalized, for ``:text``.
    text: str | None = None
    #: For Identifier values: the identifier type's system and code, for ``:of-type``.
    type_system: str | None = None
    type_code: str | None = None


@dataclass(frozen=True, slots=True)
class DateValue:
    """A ``date`` value as the closed range of instants it covers (precision honoured)."""

    param: str
    #: Earliest instant covered, UTC; ``None`` for an open start (e.g. Period without start).
    low: datetime | None
    #: Latest instant covered, UTC; ``None`` for an open end.
    high: datetime | None


@dataclass(frozen=True, slots=True)
class NumberValue:
    """A ``number`` value, with the range implied by its significant digits."""

    param: str
    value: Decimal
    low: Decimal
    high: Decimal


@dataclass(frozen=True, slots=True)
class QuantityValue:
    """A ``quantity`` value (Quantity, Money, Age, Duration... and SampledData origin)."""

    param: str
    value: Decimal
    low: Decimal
    high: Decimal
    system: str | None
    code: str | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    """A ``reference`` value: a local ``Type/id``, an absolute URL, or a canonical."""

    param: str
    #: For local references (``Patient/123`` or ``[base]/Patient/123``): the type and id.
    target_type: str | None
    target_id: str | None
    #: For absolute or canonical references: the URL (without ``|version``).
    url: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class UriValue:
    """A ``uri`` value (also canonical URLs of definitional resources)."""

    param: str
    uri: str




@dataclass(frozen=True, slots=True)
class DateSortValue:
    """The span of all of a resource's values of one date parameter, one row per (resource, param).

    Written for every date parameter of the type, with the ``MIN_INSTANT`` sentinel
    when the resource has no value, so ``_sort=date`` is a join on exactly one row and
    an index scan in date order can stop after one page.
    """

    param: str
    low: datetime
    high: datetime


IndexValue = (
    StringValue | TokenValue | DateValue | NumberValue | QuantityValue | ReferenceValue | UriValue | DateSortValue
)
