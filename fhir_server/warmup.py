"""Loading what every request needs before the first one, then freezing it for the garbage collector.

The R4 definitions, the search registry and the compiled extraction plans are
loaded lazily and stay for the life of the process: hundreds of thousands of
objects. Left in the collector's generations, every full collection walks them
all, which showed as 50-60 ms stalls on about one request in twenty
(``bench/bench_scoring.py``: ``$risk-assessment`` p95 100 ms, 46 ms once frozen).
Serving processes call :func:`prepare_process` once at start; tests and
short CLI commands do not need to.
"""

from __future__ import annotations

import gc

from conformance.resource_types import R4_RESOURCE_TYPES
from conformance.search_parameters import default_registry
from conformance.validation import validate_resource
from fhir_server.search.extract import extract_index_values


def prepare_process() -> None:
    """Load definitions, registry and every type's extraction plan, then ``gc.freeze()`` them."""
    registry = default_registry()
    validate_resource({"resourceType": "Patient", "active": True})
    for resource_type in sorted(R4_RESOURCE_TYPES):
        registry.for_type(resource_type)
        extract_index_values({"resourceType": resource_type, "id": "warm-up"}, registry)
    gc.collect()
    # Frozen objects are still freed by reference counting; only the cycle scan skips them.
    gc.freeze()
