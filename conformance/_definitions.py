"""Load the generated R4 element index and shape it for fast lookups.

The generated file (see :mod:`conformance.build_definitions`) lists element
definitions per type; validation instead needs, for any JSON object it meets,
"which properties may this object have?". This module answers that with
:class:`Context` objects keyed either by a type name (``"HumanName"``) or by
the path of a backbone element (``"Patient.contact"``). Backbone paths always
contain a dot and type names never do, so one dictionary holds both.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_DATA_DIR = Path(__file__).resolve().parent / "data"
_DATA_NAME = "r4-elements.json"

#: Pseudo type code of elements that hold a whole resource (``contained``, ``Bundle.entry.resource``).
RESOURCE = "Resource"


@dataclass(frozen=True, slots=True)
class Primitive:
    """How one FHIR primitive type is written in JSON."""

    #: FHIR type code, e.g. ``"date"``.
    code: str
    #: JSON kind: ``"string"``, ``"boolean"``, ``"integer"`` or ``"number"``.
    json: str
    #: Compiled lexical rule from the type's StructureDefinition, if it has one.
    regex: re.Pattern[str] | None


@dataclass(frozen=True, slots=True)
class Element:
    """One JSON property an object may carry; a choice element yields one per type."""

    #: JSON property name, e.g. ``"valueQuantity"``.
    name: str
    #: Element path of the definition, e.g. ``"Observation.value[x]"``.
    path: str
    #: FHIR type code of this property, e.g. ``"Quantity"``.
    type_code: str
    min: int
    #: Upper bound; ``None`` means unbounded (``*``).
    max: int | None
    #: Whether JSON carries the element as an array (max above 1).
    many: bool
    summary: bool
    modifier: bool
    #: Set for primitive types: the property holds a JSON scalar.
    primitive: Primitive | None
    #: Key of the :class:`Context` that describes this property's object, if it is one.
    children: str | None


@dataclass(frozen=True, slots=True)
class Context:
    """The properties allowed in one kind of JSON object."""

    #: Type name or backbone element path.
    key: str
    #: JSON property name to its definition.
    elements: dict[str, Element]
    #: ``(element path, JSON names)`` of each element with ``min >= 1``.
    required: tuple[tuple[str, tuple[str, ...]], ...]
    #: JSON names of each choice element with more than one type.
    choices: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Definitions:
    """The whole R4 element index."""

    resource_types: frozenset[str]
    primitives: dict[str, Primitive]
    contexts: dict[str, Context]


def _data_file() -> Path:
    """Return the generated index, gzipped or plain, whichever the build wrote."""
    for name in (f"{_DATA_NAME}.gz", _DATA_NAME):
        path = _DATA_DIR / name
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"The R4 element index `{_DATA_DIR / _DATA_NAME}` is missing; "
        "run `python -m conformance.build_definitions` to generate it."
    )


@cache
def raw_definitions() -> dict[str, Any]:
    """Return the generated index as parsed JSON, read once per process."""
    path = _data_file()
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    data: dict[str, Any] = json.loads(raw)
    return data


def _max(value: str) -> int | None:
    return None if value == "*" else int(value)


def _children_key(
    path: str, info: dict[str, Any], code: str, parents: set[str], primitives: dict[str, Primitive]
) -> str | None:
    """Return the context key describing the object an element holds."""
    if "contentReference" in info:
        return str(info["contentReference"])
    if path in parents:  # a backbone element: its children are listed under its own path
        return path
    if code in primitives or code == RESOURCE:
        return None
    return code


def _build_type(
    name: str,
    spec: dict[str, Any],
    primitives: dict[str, Primitive],
    contexts: dict[str, Context],
) -> None:
    """Add the contexts of one type (its root and each backbone element) to ``contexts``."""
    elements: dict[str, dict[str, Any]] = spec["elements"]
    parents = {path.rsplit(".", 1)[0] for path in elements}
    root = next(iter(elements)).split(".", 1)[0]  # "Quantity" for the SimpleQuantity profile
    grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path, info in elements.items():
        grouped.setdefault(path.rsplit(".", 1)[0], []).append((path, info))
    for parent, members in grouped.items():
        props: dict[str, Element] = {}
        required: list[tuple[str, tuple[str, ...]]] = []
        choices: list[tuple[str, tuple[str, ...]]] = []
        for path, info in members:
            names = tuple(info["types"])
            maximum = _max(info["max"])
            many = maximum is None or maximum > 1
            for json_name, code in info["types"].items():
                props[json_name] = Element(
                    name=json_name,
                    path=path,
                    type_code=code,
                    min=info["min"],
                    max=maximum,
                    many=many,
                    summary=info["isSummary"],
                    modifier=info["isModifier"],
                    primitive=primitives.get(code),
                    children=_children_key(path, info, code, parents, primitives),
                )
            if info["min"] >= 1:
                required.append((path, names))
            if len(names) > 1:
                choices.append((path, names))
        key = name if parent == root else parent
        contexts[key] = Context(key, props, tuple(required), tuple(choices))


@cache
def definitions() -> Definitions:
    """Return the R4 element index, built on first use and then shared."""
    data = raw_definitions()
    # The regexes are written for Java/XML Schema, where `\s` is ASCII whitespace only;
    # Python's Unicode `\s` would also match a no-break space and reject valid strings.
    primitives = {
        code: Primitive(code, spec["json"], re.compile(spec["regex"], re.ASCII) if spec["regex"] else None)
        for code, spec in data["primitives"].items()
    }
    contexts: dict[str, Context] = {}
    for name, spec in data["types"].items():
        _build_type(name, spec, primitives, contexts)
    return Definitions(frozenset(data["resourceTypes"]), primitives, contexts)
