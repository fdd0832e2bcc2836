"""The FHIR R4 (4.0.1) resource types this server accepts.

The list comes from the generated element index, so it is exactly the 146
concrete resource types of R4: R4B and R5 additions such as
``SubscriptionTopic`` are absent, and R4-only ones such as
``MedicinalProduct`` are present.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance._definitions import definitions

__all__ = ["R4_RESOURCE_TYPES", "is_resource_type"]


def is_resource_type(name: object) -> bool:
    """Tell whether ``name`` is a concrete FHIR R4 resource type, e.g. ``"Patient"``.

    The match is exact and case-sensitive, as resource types are in URLs and JSON.

    :param name: the candidate, usually a URL segment or a ``resourceType`` value.

    .. versionadded:: 0.1
    """
    return isinstance(name, str) and name in definitions().resource_types


def __getattr__(name: str) -> Any:
    # `R4_RESOURCE_TYPES` is resolved on first access (PEP 562), so importing the
    # package never reads the data file.
    if name == "R4_RESOURCE_TYPES":
        value = definitions().resource_types
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module `{__name__}` has no attribute `{name}`")


if TYPE_CHECKING:
    #: The 146 concrete FHIR R4 resource types.
    R4_RESOURCE_TYPES: frozenset[str]
