"""The id of the List that indexes a patient's Observations (until search lands)."""

from __future__ import annotations


def observation_index_id(patient_id: str) -> str:
    """Return the id of the List that indexes a patient's Observations."""
    return f"{patient_id}-observations"
