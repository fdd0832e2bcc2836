"""Fixtures for the conformance tests: sample data from ``shared/`` beside the checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

#: ``shared/`` sits beside the checkout, on developer machines and in CI alike.
SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture(scope="session")
def synthea_files() -> list[Path]:
    """Return the Synthea transaction Bundles, sorted by name; skip when there are none."""
    files = sorted((SHARED / "synthea").glob("*.json"))
    if not files:
        pytest.skip(f"No Synthea sample in `{SHARED / 'synthea'}`.")
    return files


@pytest.fixture(scope="session")
def synthea_bundle(synthea_files: list[Path]) -> dict[str, Any]:
    """Return one Synthea transaction Bundle, parsed."""
    bundle: dict[str, Any] = orjson.loads(synthea_files[0].read_bytes())
    return bundle


@pytest.fixture(scope="session")
def fhir_r4_dir() -> Path:
    """Return the official R4 definitions folder; skip when it is absent."""
    path = SHARED / "fhir-r4"
    if not path.is_dir():
        pytest.skip(f"No FHIR R4 definitions in `{path}`.")
    return path
