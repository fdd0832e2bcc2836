"""FHIR R4 (4.0.1) conformance: which resource types exist and whether a resource is valid.

Pure functions over JSON data, with no Flask and no database. The only IO is
reading the bundled element index (``data/r4-elements.json``), once, on first
use rather than at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.issues import ValidationIssue
from conformance.resource_types import is_resource_type
from conformance.summary import mandatory_elements, summary_elements
from conformance.validation import set_r4b_crosscheck, validate_resource

if TYPE_CHECKING:
    from conformance.resource_types import R4_RESOURCE_TYPES

__all__ = [
    "R4_RESOURCE_TYPES",
    "ValidationIssue",
    "is_resource_type",
    "mandatory_elements",
    "set_r4b_crosscheck",
    "summary_elements",
    "validate_resource",
]


def __getattr__(name: str) -> Any:
    # Deferred so that importing the package does not read the element index.
    if name == "R4_RESOURCE_TYPES":
        from conformance import resource_types

        return resource_types.R4_RESOURCE_TYPES
    raise AttributeError(f"module `{__name__}` has no attribute `{name}`")
