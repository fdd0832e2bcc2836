"""Tests for the adapter's exception (``adapters.dicom.errors``)."""

from __future__ import annotations

from adapters.dicom import DicomProblem, InvalidDicomError


def test_invalid_dicom_error_carries_reason_and_code() -> None:
    error = InvalidDicomError(
        "Required attribute SOPInstanceUID (0008,0018) is missing.", code=DicomProblem.MISSING_ATTRIBUTE
    )
    assert isinstance(error, ValueError)
    assert str(error) == error.reason == "Required attribute SOPInstanceUID (0008,0018) is missing."
    assert error.code == "missing-attribute"
    assert InvalidDicomError("x").code is DicomProblem.UNREADABLE
