"""Parsing of the general URL parameters (``_count``, ``_since``...) with precise errors."""

from __future__ import annotations

from datetime import datetime

from fhir_server.errors import BadRequest


def parse_count(value: str | None, default: int, maximum: int) -> int:
    """``_count`` as a page size, capped at ``maximum``.

    :raises BadRequest: unless a non-negative integer.
    """
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise BadRequest(f"`_count={value}` is not a non-negative integer.")
    return min(int(value), maximum)


def parse_instant(value: str | None, name: str) -> datetime | None:
    """A FHIR ``instant`` parameter such as ``_since=2026-01-01T00:00:00Z``.

    :raises BadRequest: unless a date-time with a time zone.
    """
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"`{name}={value}` is not a FHIR instant such as `2026-01-01T00:00:00Z`.") from exc
    if moment.tzinfo is None:
        raise BadRequest(f"`{name}={value}` needs a time zone, e.g. `Z` or `+01:00`.")
    return moment


def parse_cursor(value: str | None) -> int | None:
    """The opaque paging cursor the server put in a ``next`` link."""
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise BadRequest(f"`_cursor={value}` is not a paging cursor issued by this server.")
    return int(value)
