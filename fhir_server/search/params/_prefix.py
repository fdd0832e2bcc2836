"""Search prefixes (http://hl7.org/fhir/R4/search.html#prefix) for number, date and quantity."""

from __future__ import annotations

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def split_prefix(value: str) -> tuple[str, str]:
    """``("ge", "2020")`` from ``ge2020``; ``("eq", value)`` when there is no prefix."""
    if len(value) > 2 and value[:2] in PREFIXES and (value[2].isdigit() or value[2] in "-."):
        return value[:2], value[2:]
    return "eq", value
