"""Fixtures for the HL7 v2 adapter tests: sample messages from ``data/`` (see its NOTICE.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def sample() -> Callable[[str], bytes]:
    """Return a loader of a sample message's bytes, segments ending in CR as over MLLP."""

    def load(name: str) -> bytes:
        data = (DATA / name).read_bytes()
        # Some samples were saved with LF; MLLP peers send CR.
        return data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")

    return load
