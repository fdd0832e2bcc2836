"""Per-resource sort keys for date parameters, derived from the extracted date values."""

from __future__ import annotations

from functools import cache
from typing import Any

from conformance.search_parameters import SearchRegistry
from fhir_server.search.extract import SKIPPED_CODES, extract_index_values
from fhir_server.search.index_values import DateSortValue, DateValue, IndexValue
from fhir_server.search.ranges import MAX_INSTANT, MIN_INSTANT


@cache
def _date_params(registry: SearchRegistry, resource_type: str) -> tuple[str, ...]:
    # _lastUpdated sorts on the resource row itself and is never extracted.
    params = registry.for_type(resource_type).items()
    return tuple(sorted(code for code, p in params if p.type == "date" and p.expression and code not in SKIPPED_CODES))


def date_sort_values(values: list[IndexValue], registry: SearchRegistry, resource_type: str) -> list[DateSortValue]:
    """One :class:`DateSortValue` per date parameter of the type: lowest start, highest end.

    A parameter without values gets ``MIN_INSTANT`` for both ends, so it sorts
    first ascending and last descending.
    """
    spans: dict[str, tuple] = {}
    for value in values:
        if isinstance(value, DateValue):
            low, high = value.low or MIN_INSTANT, value.high or MAX_INSTANT
            if value.param in spans:
                old_low, old_high = spans[value.param]
                low, high = min(low, old_low), max(high, old_high)
            spans[value.param] = (low, high)
    return [
        DateSortValue(code, *spans.get(code, (MIN_INSTANT, MIN_INSTANT))) for code in _date_params(registry, resource_type)
    ]


def search_index_values(resource: dict[str, Any], registry: SearchRegistry) -> list[IndexValue]:
    """Everything the search index stores for ``resource``: extracted values and date sort keys."""
    values = extract_index_values(resource, registry)
    return values + date_sort_values(values, registry, resource["resourceType"])
