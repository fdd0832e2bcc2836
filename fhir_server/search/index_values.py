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
    #: ``high - low`` in whole seconds, rounded up, when the resource has exactly one value of
    #: the parameter (the row *is* that value); ``-1`` for several, ``None`` for none. See
    #: :mod:`fhir_server.search.sort_bounds` for what it lets a sorted date search skip.
    span_seconds: int | None = None


def span_seconds(low: datetime, high: datetime) -> int:
    """``high - low`` in seconds, rounded up, so ``span_seconds <= n`` proves ``high <= low + n s``."""
    delta = high - low
    return delta.days * 86400 + delta.seconds + (1 if delta.microseconds else 0)


@dataclass(frozen=True, slots=True)
class CompositeValue:
    """A ``composite`` value: one combination of component values taken from one element.

    The fields are the ``spidx_composite`` slots (:data:`models.search.COMPOSITE_SLOTS`):
    each component fills the columns of its slot with what the plain parameter would
    store, and the other slots stay ``None``.
    """

    param: str
    token1_system: str | None = None
    token1_code: str | None = None
    token2_system: str | None = None
    token2_code: str | None = None
    number1: Decimal | None = None
    number2: Decimal | None = None
    quantity_value: Decimal | None = None
    quantity_system: str | None = None
    quantity_code: str | None = None
    quantity_unit: str | None = None
    #: ``MIN_INSTANT``/``MAX_INSTANT`` for open ends, as the date column ranges need.
    date_low: datetime | None = None
    date_high: datetime | None = None
    string: str | None = None
    reference_type: str | None = None
    reference_id: str | None = None
    reference_url: str | None = None
    reference_version: str | None = None
    uri: str | None = None


IndexValue = (
    StringValue
    | TokenValue
    | DateValue
    | NumberValue
    | QuantityValue
    | ReferenceValue
    | UriValue
    | DateSortValue
    | CompositeValue
)
