"""The Synthea sample resources the single-process benchmarks run over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

#: The checkout sits beside `shared/`, as on developer machines and in CI.
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "synthea"


def load(directory: Path = DEFAULT_DIR) -> list[dict[str, Any]]:
    """Return the resource of every entry of every Bundle in ``directory``."""
    resources: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        resources.extend(entry["resource"] for entry in bundle.get("entry", ()))
    return resources
