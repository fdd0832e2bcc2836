"""The Synthea sample resources the single-process benchmarks run over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance import fhir_json

#: The six sample Bundles inside the repository; pass a larger folder (e.g. the 41 patients of
#: the shared development set) for the figures in docs/benchmarks.md.
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "synthea"


def load(directory: Path = DEFAULT_DIR) -> list[dict[str, Any]]:
    """Return the resource of every entry of every Bundle in ``directory``."""
    resources: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")):
        bundle = fhir_json.loads(path.read_bytes())  # as the server parses: decimals keep their text
        resources.extend(entry["resource"] for entry in bundle.get("entry", ()))
    return resources
