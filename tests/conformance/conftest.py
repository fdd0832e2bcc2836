"""Fixtures for the conformance tests: sample data from ``tests/data/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from testdata import r4_definitions_dir
from testdata import synthea_files as synthea_files_in_repo


@pytest.fixture(scope="session")
def synthea_files() -> list[Path]:
    """Return the Synthea transaction Bundles, sorted by name; skip when there are none."""
    return synthea_files_in_repo()


@pytest.fixture(scope="session")
def synthea_bundle(synthea_files: list[Path]) -> dict[str, Any]:
    """Return one Synthea transaction Bundle, parsed."""
    bundle: dict[str, Any] = orjson.loads(synthea_files[0].read_bytes())
    return bundle


@pytest.fixture(scope="session")
def fhir_r4_dir() -> Path:
    """Return the official R4 definitions folder (a large, opt-in run); skip when it is not given."""
    return r4_definitions_dir()
