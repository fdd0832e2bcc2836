"""The ranges that dates and numbers cover, from their precision (search.html#date, #number).

A date covers every instant its precision allows: ``2020`` is
``2020-01-01T00:00:00`` to ``2020-12-31T23:59:59.999999``. A number covers half
a unit of its last significant digit either side: ``100`` is ``[99.5, 100.5]``,
``1.00`` is ``[0.995, 1.005]``.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from fhir_server.search import ranges

__all__ = ["date_range", "normalize_text", "number_range", "to_decimal"]


@lru_cache(maxsize=65536)
def date_range(text: str) -> tuple[datetime, datetime] | None:
    """Return the first and last instant (UTC) a date, dateTime or instant covers; ``None`` if unreadable.

    The rounding is :func:`fhir_server.search.ranges.date_range`'s, which the planner
    applies to search values too; a time without a zone is read as UTC there.

    :param text: e.g. ``"2020"``, ``"2020-02"``, ``"2020-02-01T10:00:00+01:00"``.
    """
    try:
        return ranges.date_range(text)
    except OverflowError:
        return None  # an offset that moves year 1 or 9999 out of datetime's range


def to_decimal(value: object) -> Decimal | None:
    """Return a JSON number as a Decimal with its written digits.

    Resources parsed by :func:`conformance.fhir_json.loads` hold each decimal as a
    :class:`~conformance.fhir_json.FhirDecimal`, whose ``repr`` is the JSON text
    (``1.00`` stays ``1.00``); for a plain float (built by server code, not read
    from JSON) Python's shortest repr is what :func:`~conformance.fhir_json.dumps` writes.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def number_range(number: Decimal) -> tuple[Decimal, Decimal]:
    """Return ``[low, high]``: half a unit of the last significant digit either side.

    The rounding is :func:`fhir_server.search.ranges.decimal_range`'s, as for search values.
    """
    parsed = ranges.decimal_range(str(number))
    if parsed is None:  # pragma: no cover - `number` is always a finite Decimal here
        return number, number
    return parsed[1], parsed[2]


@lru_cache(maxsize=65536)
def normalize_text(text: str) -> str:
    """Fold a string for default string matching: accents removed, case-folded, whitespace collapsed."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(text.casefold().split())
