"""ValidationIssue is a small frozen value."""

from __future__ import annotations

import dataclasses

import pytest

from conformance import ValidationIssue


def test_issue_is_frozen_and_compares_by_value() -> None:
    issue = ValidationIssue("error", "value", "Value `x` of `Patient.gender` is not a valid `code`.", "Patient.gender")
    assert issue == ValidationIssue(
        "error", "value", "Value `x` of `Patient.gender` is not a valid `code`.", "Patient.gender"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.code = "invalid"  # type: ignore[misc]


@pytest.mark.parametrize(("severity", "is_error"), [("fatal", True), ("error", True), ("warning", False)])
def test_is_error(severity: str, is_error: bool) -> None:
    assert ValidationIssue(severity, "value", "Text.", None).is_error is is_error  # type: ignore[arg-type]
