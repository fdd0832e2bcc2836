"""Measure validation throughput over every resource in the Synthea sample.

Not a test: run ``python bench/bench_validation.py [SYNTHEA_DIR]`` and read the
resources/s figures, one with the R4B pydantic cross-check and one without.
Each Synthea file is a transaction Bundle; the entries' resources are validated
one by one, as the server does for a transaction.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

# Lets `python bench/bench_validation.py` run from a checkout without an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthea import DEFAULT_DIR, load

from conformance import validate_resource


def run(resources: list[dict[str, Any]], use_r4b_models: bool) -> tuple[float, int]:
    """Validate everything once; return (resources per second, issues found)."""
    start = time.perf_counter()
    found = sum(len(validate_resource(r, use_r4b_models=use_r4b_models)) for r in resources)
    return len(resources) / (time.perf_counter() - start), found


def main() -> None:
    """Print the throughput with and without the R4B cross-check."""
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    resources = load(directory)
    validate_resource(resources[0])  # load the index and models outside the timing
    print(f"{len(resources)} resources from {directory}")
    for use_r4b_models in (True, False):
        rate, found = max(run(resources, use_r4b_models) for _ in range(3))
        label = "R4 walker + R4B pydantic" if use_r4b_models else "R4 walker only        "
        print(f"{label}: {rate:8.0f} resources/s, {found} issues")


if __name__ == "__main__":
    main()
