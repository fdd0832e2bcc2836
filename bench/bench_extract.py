"""Measure search-index extraction throughput over every resource in the Synthea sample.

Not a test: run ``python bench/bench_extract.py [SYNTHEA_DIR]`` and read the
resources/s figure (one core, best of three passes). The first pass over the
sample is left out of the timing: it compiles each resource type's expressions
once, as a long-running server does on its first writes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

# Lets `python bench/bench_extract.py` run from a checkout without an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthea import DEFAULT_DIR, load

from fhir_server.search.extract import extract_index_values
from fhir_server.search.fhirpath import FALLBACK_EXPRESSIONS


def run(resources: list[dict[str, Any]]) -> tuple[float, int]:
    """Extract everything once; return (resources per second, values extracted)."""
    start = time.perf_counter()
    values = sum(len(extract_index_values(resource)) for resource in resources)
    return len(resources) / (time.perf_counter() - start), values


def main() -> None:
    """Print the extraction throughput."""
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    resources = load(directory)
    start = time.perf_counter()
    run(resources)
    print(f"{len(resources)} resources from {directory}; first pass {time.perf_counter() - start:.2f} s")
    rate, values = max(run(resources) for _ in range(3))
    print(f"extraction: {rate:8.0f} resources/s, {values} index values ({values / len(resources):.1f} per resource)")
    print(f"expressions evaluated by fhirpathpy: {len(FALLBACK_EXPRESSIONS)}")


if __name__ == "__main__":
    main()
