"""Normalise DICOM value representations (UI, DA, TM, IS, PN, SH offsets) to FHIR forms.

Header values in the wild are messy: padded, empty, legacy ACR-NEMA ``1997.04.24``
dates, ``14:04:38`` times, partial dates, fractional seconds and ``^^^^`` names.
Every parser here returns ``None`` for a value it cannot read rather than raising:
a bad Study Time must not cost us the image. UIDs are the exception, validated by
:func:`is_valid_uid` so the caller can reject the instance.
"""

from __future__ import annotations

import re
from datetime import date

from pydicom.multival import MultiValue

#: PS3.5 section 9.1: digit components without leading zeros, dot separated.
_UID_RE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
MAX_UID_LENGTH = 64
# The optional dots accept ACR-NEMA ``YYYY.MM.DD`` dates next to ``YYYYMMDD``.
_DA_RE = re.compile(r"(\d{4})(?:\.?(\d{2})(?:\.?(\d{2}))?)?")
# The optional colons accept ACR-NEMA ``HH:MM:SS`` times next to ``HHMMSS.FFFFFF``.
_TM_RE = re.compile(r"(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{0,6}))?)?)?")
_TZ_RE = re.compile(r"([+-])(\d{2})(\d{2})")


def is_valid_uid(value: str) -> bool:
    """Return whether *value* is a syntactically valid DICOM UID of at most 64 characters."""
    return len(value) <= MAX_UID_LENGTH and _UID_RE.fullmatch(value) is not None


def text(value: object) -> str | None:
    """Return the first value of an element as a stripped string, or ``None`` if empty.

    DICOM pads values with spaces (text VRs) or NULs (UI), and multi-valued
    elements arrive as :class:`~pydicom.multival.MultiValue`; the header only
    keeps the first value of the few attributes we read that allow VM > 1.
    """
    if isinstance(value, (list, tuple, MultiValue)):
        value = value[0] if len(value) else None
    if value is None:
        return None
    stripped = str(value).strip(" \x00\t\r\n")
    return stripped or None


def integer(value: object) -> int | None:
    """Return an IS value as ``int``, or ``None`` if empty or not a whole number."""
    if isinstance(value, int):
        return int(value)
    raw = text(value)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        # pydicom keeps an unparseable IS such as ``1A`` as its original string.
        return None


def fhir_date(value: object) -> str | None:
    """Return a DA value as a FHIR ``date`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``)."""
    raw = text(value)
    match = _DA_RE.fullmatch(raw) if raw else None
    if match is None:
        # Also rejects DA ranges (``20040101-``), which belong to queries, not instances.
        return None
    year, month, day = match.groups()
    try:
        # ``date`` validates the calendar and rejects year 0000 (``00000000`` placeholders).
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    return "-".join(part for part in (year, month, day) if part)


def fhir_time(value: object) -> str | None:
    """Return a TM value as a FHIR ``time`` (``HH:MM:SS[.ffffff]``).

    FHIR has no hour- or minute-precision time, so missing minutes and seconds
    are filled with zeros; fractional seconds are kept as written.
    """
    raw = text(value)
    match = _TM_RE.fullmatch(raw) if raw else None
    if match is None:
        return None
    hours, minutes, seconds, fraction = match.groups()
    # DICOM allows a leap second (60), and so does the FHIR time regex.
    if int(hours) > 23 or int(minutes or 0) > 59 or int(seconds or 0) > 60:
        return None
    result = f"{hours}:{minutes or '00'}:{seconds or '00'}"
    return f"{result}.{fraction}" if fraction else result


def fhir_timezone(value: object) -> str | None:
    """Return a Timezone Offset From UTC (``-0500``) as a FHIR offset (``-05:00``)."""
    raw = text(value)
    match = _TZ_RE.fullmatch(raw) if raw else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    # The FHIR dateTime regex allows offsets up to 13:59 and exactly 14:00.
    if int(minutes) > 59 or int(hours) > 14 or (hours == "14" and minutes != "00"):
        return None
    return f"{sign}{hours}:{minutes}"


def fhir_datetime(day: str | None, time: str | None, zone: str | None) -> str | None:
    """Combine a FHIR date, time and offset into a FHIR ``dateTime``.

    FHIR requires a time zone whenever a time is given, and a time needs a full
    date; when either is missing only the date is returned, because dropping the
    time is truthful whereas inventing a zone is not.
    """
    if day is None:
        return None
    if time is None or zone is None or len(day) != len("YYYY-MM-DD"):
        return day
    return f"{day}T{time}{zone}"


def person_name_parts(value: object) -> tuple[str, ...] | None:
    """Split a PN value into its five ``^`` components, or ``None`` if it is empty.

    The alphabetic group is used, falling back to the ideographic then phonetic
    group when it is empty (``=山田^太郎``). The result always has five entries
    (family, given, middle, prefix, suffix), empty strings for absent components.
    """
    raw = text(value)
    if raw is None:
        return None
    for group in raw.split("="):
        parts = [part.strip() for part in group.split("^")]
        if any(parts):
            padded = (parts + [""] * 5)[:5]
            return tuple(padded)
    return None
