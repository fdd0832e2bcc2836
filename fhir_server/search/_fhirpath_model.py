"""What the FHIRPath compiler knows of the R4 model: member names per context and the type tree.

Every value the compiled code handles carries a *key*: the
:mod:`conformance._definitions` context that describes it (a type name such as
``"HumanName"``, a backbone path such as ``"Observation.component"``, or a
resource type), or a primitive type code (``"dateTime"``). Navigating a member
looks the key up here once and then reads fixed JSON property names, so choice
elements (``value`` → ``valueQuantity``, ``valueString``...) cost no more than
plain ones and each value's type comes from the definitions, not from guessing.
"""

from __future__ import annotations

from functools import cache

from conformance._definitions import RESOURCE, definitions, raw_definitions

__all__ = ["RESOURCE", "fhir_type", "is_a", "members", "primitive_codes"]

#: A member step: the JSON property names to read and the key of what each holds.
MemberTable = tuple[tuple[str, str], ...]

# FHIRPath System types and the FHIR primitives that map onto them (fhirpath N1 §types).
_SYSTEM_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid", "base64Binary"}),
    "datetime": frozenset({"dateTime", "instant", "date"}),
    "date": frozenset({"date"}),
    "decimal": frozenset({"decimal"}),
    "integer": frozenset({"integer", "positiveInt", "unsignedInt"}),
    "boolean": frozenset({"boolean"}),
    "time": frozenset({"time"}),
}


@cache
def _names(key: str) -> dict[str, MemberTable]:
    """Map each FHIRPath member name of a context to the JSON properties it reads."""
    context = definitions().contexts.get(key)
    if context is None:
        return {}
    table: dict[str, list[tuple[str, str]]] = {}
    for element in context.elements.values():
        last = element.path.rsplit(".", 1)[-1]
        name = last.removesuffix("[x]")
        table.setdefault(name, []).append((element.name, element.children or element.type_code))
    return {name: tuple(entries) for name, entries in table.items()}


def members(key: str | None, name: str) -> MemberTable | None:
    """Return the JSON properties that member ``name`` reads on a value of ``key``.

    :returns: ``None`` when the key is not a known context (the caller reads ``name`` as is).
    """
    if key is None:
        return None
    table = _names(key)
    if not table:
        return None
    return table.get(name, ())


@cache
def primitive_codes() -> frozenset[str]:
    """Return the R4 primitive type codes (``string``, ``dateTime``...)."""
    return frozenset(definitions().primitives)


@cache
def _parents() -> dict[str, str | None]:
    types = raw_definitions()["types"]
    return {name: spec.get("base") for name, spec in types.items()}


@cache
def is_a(key: str | None, type_name: str) -> bool:
    """Tell whether a value with ``key`` is of FHIRPath type ``type_name`` (subtypes count).

    ``Age`` is a ``Quantity``, ``Patient`` is a ``Resource``, a ``dateTime`` is a
    ``System.DateTime``; type names are matched the way FHIRPath does, with the
    lower-case System names (``DateTime``, ``String``) accepted for the primitives they cover.
    """
    if key is None:
        return False
    if key == type_name:
        return True
    system = _SYSTEM_TYPES.get(type_name.lower())
    if system is not None and type_name[0].isupper() and key in system:
        return True
    parents = _parents()
    current = parents.get(key)
    while current:
        if current == type_name:
            return True
        current = parents.get(current)
    return False


def fhir_type(key: str | None) -> str | None:
    """Return the FHIR type name of a key: backbone element paths become ``BackboneElement``."""
    if key is None:
        return None
    if "." in key:
        return "BackboneElement"
    return key if key != RESOURCE else None
