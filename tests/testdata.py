"""Where the tests find their sample data: ``tests/data/``, inside the repository.

Nothing here looks outside the checkout, so a clone anywhere runs the suite.
The one exception is opt-in: the official R4 package, too large to copy, is
used only when ``FHIR_SERVER_R4_DEFINITIONS_DIR`` names it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

DATA_DIR = Path(__file__).resolve().parent / "data"
#: Six single-patient Synthea transaction Bundles.
SYNTHEA_DIR = DATA_DIR / "synthea"
#: Six PhysioNet 2012 ICU stays (``set-a/``, ``set-b/``) and ``Outcomes-a.txt``.
PHYSIONET_DIR = DATA_DIR / "physionet2012"
R4_DEFINITIONS_ENV = "FHIR_SERVER_R4_DEFINITIONS_DIR"


def synthea_files() -> list[Path]:
    """The sample Bundles, sorted by name."""
    return sorted(SYNTHEA_DIR.glob("*.json"))


def r4_definitions_dir() -> Path:
    """The official R4 definitions folder named by the environment; skips the test when unset."""
    value = os.environ.get(R4_DEFINITIONS_ENV)
    if not value:
        pytest.skip(f"Large run: set {R4_DEFINITIONS_ENV} to the official FHIR R4 definitions folder to run it.")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"{R4_DEFINITIONS_ENV} names `{path}`, which is not a folder.")
    return path


def count_rows(url: str, sql: str) -> int:
    """The single integer ``sql`` (a ``SELECT count(*) ...``) returns on the database at ``url``."""
    engine = create_engine(url)
    with engine.connect() as connection:
        value = int(connection.execute(text(sql)).scalar_one())
    engine.dispose()
    return value
