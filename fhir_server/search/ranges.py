"""The ranges FHIR search values stand for: dates by precision, numbers by significant digits.

Shared by extraction (what a stored value covers) and the planner (what a search
value asks for), so both sides round the same way.
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation, localcontext

#: Stored in place of an open end, so range conditions stay plain index comparisons.
MIN_INSTANT = datetime(1, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def date_range(text: str) -> tuple[datetime, datetime] | None:
    """The UTC instants ``[low, high]`` a FHIR date/dateTime/instant covers; ``None`` if malformed.

    A time without a zone is taken as UTC (the server's zone).
    """
    match = _DATE.fullmatch(text.strip())
    if not match:
        return None
    g = match.groupdict()
    try:
        year = int(g["y"])
        if g["m"] is None:
            return datetime(year, 1, 1, tzinfo=UTC), datetime(year, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        month = int(g["m"])
        if g["d"] is None:
            last = monthrange(year, month)[1]
            return (
                datetime(year, month, 1, tzinfo=UTC),
                datetime(year, month, last, 23, 59, 59, 999999, tzinfo=UTC),
            )
        day = int(g["d"])
        if g["H"] is None:
            start = datetime(year, month, day, tzinfo=UTC)
            return start, start + timedelta(days=1, microseconds=-1)
        zone = UTC
        if g["tz"] and g["tz"] != "Z":
            sign = 1 if g["tz"][0] == "+" else -1
            zone = timezone(sign * timedelta(hours=int(g["tz"][1:3]), minutes=int(g["tz"][4:6])))
        start = datetime(year, month, day, int(g["H"]), int(g["M"]), tzinfo=zone)
        if g["S"] is None:
            step = timedelta(minutes=1)
        elif g["f"] is None:
            start = start.replace(second=int(g["S"]))
            step = timedelta(seconds=1)
        else:
            digits = g["f"][:6]
            start = start.replace(second=int(g["S"]), microsecond=int(digits.ljust(6, "0")))
            step = timedelta(microseconds=10 ** (6 - len(digits)))
        start = start.astimezone(UTC)
        return start, start + step - timedelta(microseconds=1)
    except ValueError:
        return None


def decimal_range(text: str) -> tuple[Decimal, Decimal, Decimal] | None:
    """``(value, low, high)``: the value and the interval its significant digits imply.

    ``100`` stands for [99.5, 100.5), ``1.00`` for [0.995, 1.005) (http://hl7.org/fhir/R4/search.html#number).
    """
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    half = Decimal(5).scaleb(exponent - 1)
    # Exact bounds whatever the digits (the default context would round past 28 of them).
    with localcontext() as context:
        context.prec = max(28, len(value.as_tuple().digits) + 2)
        return value, value - half, value + half
