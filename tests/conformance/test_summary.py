"""Element sets for `_summary=true` and `_elements`."""

from __future__ import annotations

import pytest

from conformance import mandatory_elements, summary_elements


def test_patient_summary_elements() -> None:
    summary = summary_elements("Patient")
    assert {"id", "meta", "implicitRules", "identifier", "name", "birthDate", "gender", "active"} <= summary
    # Choice elements come expanded to their JSON names.
    assert {"deceasedBoolean", "deceasedDateTime"} <= summary
    assert {"text", "contained", "extension", "photo", "contact", "multipleBirthBoolean"}.isdisjoint(summary)


def test_observation_summary_expands_value() -> None:
    summary = summary_elements("Observation")
    assert {"status", "code", "subject", "valueQuantity", "valueString", "effectiveDateTime"} <= summary
    assert "note" not in summary


def test_mandatory_elements() -> None:
    assert mandatory_elements("Observation") == frozenset({"status", "code"})
    assert mandatory_elements("Patient") == frozenset()
    assert mandatory_elements("Bundle") == frozenset({"type"})


def test_unknown_type_raises() -> None:
    with pytest.raises(KeyError, match="`SubscriptionTopic`"):
        summary_elements("SubscriptionTopic")
    with pytest.raises(KeyError):
        mandatory_elements("HumanName")
