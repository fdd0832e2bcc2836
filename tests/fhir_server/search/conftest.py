"""Fixtures for the search tests: Synthea resources as a transaction would store them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from testdata import synthea_files


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
    files = synthea_files()[:4]
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
