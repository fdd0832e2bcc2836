"""Loading what every request needs before the first one, then freezing it for the garbage collector.

The R4 definitions, the search registry and the compiled extraction plans are
loaded lazily and stay for the life of the process: hundreds of thousands of
objects. Left in the collector's generations, every full collection walks them
all, which showed as 50-60 ms stalls on about one request in twenty
(``bench/bench_scoring.py``: ``$risk-assessment`` p95 100 ms, 46 ms once frozen).
Serving processes call :func:`prepare_process` once at start; tests and
short CLI commands do not need to. Given the app's engine, it loads the
database's custom SearchParameters first, so they are frozen with the rest.
"""

from __future__ import annotations

import gc
import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from conformance.resource_types import R4_RESOURCE_TYPES
from conformance.search_parameters import default_registry
from conformance.validation import validate_resource
from fhir_server.repository.registry_sync import custom_parameters
from fhir_server.search.extract import extract_index_values

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from conformance.search_parameters import SearchRegistry


def prepare_process(engine: Engine | None = None) -> None:
    """Load definitions, registry and every type's extraction plan, then ``gc.freeze()`` them.

    :param engine: the database whose custom SearchParameters join the registry; the official one alone without.
    """
    validate_resource({"resourceType": "Patient", "active": True})
    _warm(default_registry())
    if engine is not None:
        try:
            # Built after the official registry is warm, so it shares that registry's per-type views.
            registry = custom_parameters(engine).registry
        except DBAPIError:  # a worker that cannot boot takes gunicorn down; the first request retries
            logging.getLogger(__name__).warning("Custom SearchParameters not loaded at start-up.", exc_info=True)
        else:
            _warm(registry)
    gc.collect()
    # Frozen objects are still freed by reference counting; only the cycle scan skips them.
    gc.freeze()


def _warm(registry: SearchRegistry) -> None:
    for resource_type in sorted(R4_RESOURCE_TYPES):
        registry.for_type(resource_type)
        extract_index_values({"resourceType": resource_type, "id": "warm-up"}, registry)
