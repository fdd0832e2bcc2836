"""The cleaning every importer applies to a resource before storing it.

Units are coded in UCUM where the source wrote them otherwise (:mod:`fhir_server.quality.units`),
then an impossible vital sign is withheld (:mod:`fhir_server.quality.plausibility`); in that order,
so a heart rate of 500 ``bpm`` is recognised as 500 ``/min``. The REST API does not clean: a client
writing through it gets its resource stored as sent, or refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_server.quality.plausibility import flag_implausible
from fhir_server.quality.units import normalise_units

__all__ = ["Cleaning", "clean_for_import"]


@dataclass(frozen=True, slots=True)
class Cleaning:
    """What :func:`clean_for_import` changed in one resource."""

    #: One sentence per Quantity recoded, e.g. "valueQuantity unit `bpm` coded as UCUM `/min`".
    units: list[str] = field(default_factory=list)
    #: Why the value was withheld, when it was.
    withheld: str | None = None


def clean_for_import(resource: dict[str, Any]) -> Cleaning:
    """Normalise units and withhold an impossible vital sign, in place."""
    units = [
        f"{element} unit `{written}` coded as UCUM `{code}`" for element, written, code in normalise_units(resource)
    ]
    withheld = flag_implausible(resource) if resource.get("resourceType") == "Observation" else None
    return Cleaning(units, withheld)
