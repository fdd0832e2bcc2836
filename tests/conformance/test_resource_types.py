"""The R4 resource type list: exactly R4's 146 concrete types."""

from __future__ import annotations

import pytest

from conformance import R4_RESOURCE_TYPES, is_resource_type


def test_there_are_146_r4_resource_types() -> None:
    assert len(R4_RESOURCE_TYPES) == 146
    assert isinstance(R4_RESOURCE_TYPES, frozenset)


@pytest.mark.parametrize("name", ["Patient", "Observation", "Bundle", "MedicinalProduct", "SubstancePolymer"])
def test_r4_types_are_known(name: str) -> None:
    assert is_resource_type(name)
    assert name in R4_RESOURCE_TYPES


@pytest.mark.parametrize(
    "name",
    # R4B/R5 additions, abstract bases, datatypes, wrong case and non-strings.
    ["SubscriptionTopic", "Citation", "Resource", "DomainResource", "HumanName", "patient", "", None, 7],
)
def test_other_names_are_not(name: object) -> None:
    assert not is_resource_type(name)
