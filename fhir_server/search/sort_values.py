"""Per-resource sort keys for date parameters, derived from the extracted date values."""

from __future__ import annotations

from typing import Any

from conformance.search_parameters import SearchRegistry
from fhir_server.search.extract import SKIPPED_CODES, extract_index_values
from fhir_server.search.index_values import DateSortValue, DateValue, IndexValue, span_seconds
from fhir_server.search.ranges import MAX_INSTANT, MIN_INSTANT
from models.search import SEVERAL_VALUES


def _date_params(registry: SearchRegistry, resource_type: str) -> tuple[str, ...]:
    # Kept on the registry, not in a module cache that would hold every replaced registry alive.
    return registry.derived((_date_params, resource_type), lambda: _dates_of(registry, resource_type))


def _dates_of(registry: SearchRegistry, resource_type: str) -> tuple[str, ...]:
    # _lastUpdated sorts on the resource row itself and is never extracted.
    params = registry.for_type(resource_type).items()
    return tuple(sorted(code for code, p in params if p.type == "date" and p.expression and code not in SKIPPED_CODES))


def date_sort_values(values: list[IndexValue], registry: SearchRegistry, resource_type: str) -> list[DateSortValue]:
    """One :class:`DateSortValue` per date parameter of the type: lowest start, highest end.

    A parameter without values gets ``MIN_INSTANT`` for both ends, so it sorts
    first ascending and last descending. The span is recorded only for exactly one
    value, the case where the row stands for the value itself (``SEVERAL_VALUES``
    marks several, ``None`` none).
    """
    spans: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    for value in values:
        if isinstance(value, DateValue):
            low, high = value.low or MIN_INSTANT, value.high or MAX_INSTANT
            if value.param in spans:
                old_low, old_high = spans[value.param]
                low, high = min(low, old_low), max(high, old_high)
            spans[value.param] = (low, high)
            counts[value.param] = counts.get(value.param, 0) + 1
    out = []
    for code in _date_params(registry, resource_type):
        low, high = spans.get(code, (MIN_INSTANT, MIN_INSTANT))
        count = counts.get(code, 0)
        span = None if count == 0 else span_seconds(low, high) if count == 1 else SEVERAL_VALUES
        out.append(DateSortValue(code, low, high, span))
    return out


def search_index_values(resource: dict[str, Any], registry: SearchRegistry) -> list[IndexValue]:
    """Everything the search index stores for ``resource``: extracted values and date sort keys."""
    values = extract_index_values(resource, registry)
    return values + date_sort_values(values, registry, resource["resourceType"])
