"""Fixtures for the search tests: Synthea resources as a transaction would store them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

#: ``shared/`` sits beside the checkout, on developer machines and in CI alike.
SHARED = Path(__file__).resolve().parents[4] / "shared"


def _rewrite(value: Any, targets: dict[str, str]) -> Any:
    """Replace ``urn:uuid:`` references by the ``Type/id`` a transaction assigns."""
    if isinstance(value, dict):
        return {
            key: targets.get(item, item) if key == "reference" else _rewrite(item, targets)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(item, targets) for item in value]
    return value


@pytest.fixture(scope="session")
def synthea_resources() -> list[dict[str, Any]]:
    """Return every resource of four Synthea bundles, references rewritten; skip without the sample."""
    files = sorted((SHARED / "synthea").glob("*.json"))[:4]
    if not files:
        pytest.skip(f"No Synthea sample in `{SHARED / 'synthea'}`.")
    resources: list[dict[str, Any]] = []
    for file in files:
        entries = orjson.loads(file.read_bytes())["entry"]
        targets = {
            entry["fullUrl"]: f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
            for entry in entries
            if "id" in entry["resource"]
        }
        resources.extend(_rewrite(entry["resource"], targets) for entry in entries)
    return resources
