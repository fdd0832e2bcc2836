"""Which top-level elements a search parameter's expression starts from, to skip the absent ones.

A resource type has 20-40 search parameters and a resource usually holds a
third of their elements; evaluating a compiled FHIRPath that finds nothing still
costs a few microseconds of Python calls each. Extraction therefore checks first
whether the resource has any element an expression can start from.

The analysis is deliberately conservative: an expression is split into its
top-level ``|`` branches, and each branch must start with ``<Type>.<element>``
(optionally inside parentheses) where ``<Type>`` is the resource type,
``Resource`` or ``DomainResource``, and be plain navigation that yields nothing
from nothing. Anything else (``%resource``, ``exists()``, a comparison, a bare
element) makes the whole expression "always evaluate".
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["expression_roots", "present_roots"]

_BRANCH = re.compile(r"\(*\s*([A-Za-z]+)\.([A-Za-z]+)")
#: Functions that give an empty result for an empty input: a branch using only these finds
#: nothing when its root element is absent. ``exists()``, ``empty()``, ``count()``, boolean
#: operators and comparisons can produce a value from nothing (``Patient.deceased.exists()
#: and Patient.deceased != false`` indexes ``false``), so they disqualify a branch.
_EMPTY_PRESERVING = frozenset({"where", "select", "as", "ofType", "resolve", "first", "last", "extension"})
_CALL = re.compile(r"([A-Za-z]+)\(")
_NAVIGATION = re.compile(r"[\sA-Za-z0-9_.()\[\]]*")
_AS_TYPE = re.compile(r"\s+as\s+[A-Za-z]+")


def _branches(expression: str) -> list[str]:
    """The expression split at ``|`` outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(expression):
        if char == "'" and (i == 0 or expression[i - 1] != "\\"):
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(expression[start:i])
            start = i + 1
    parts.append(expression[start:])
    return parts


def _navigation_only(branch: str) -> bool:
    """Whether ``branch`` is plain navigation: paths, ``[n]``, ``as T`` and empty-preserving calls."""
    kept, i = [], 0
    while i < len(branch):
        call = _CALL.match(branch, i)
        if call is None:
            kept.append(branch[i])
            i += 1
            continue
        if call.group(1) not in _EMPTY_PRESERVING:
            return False
        depth, quoted, i = 1, False, call.end()
        while i < len(branch) and depth:  # skip the arguments: they filter, they do not produce
            char = branch[i]
            if char == "'" and branch[i - 1] != "\\":
                quoted = not quoted
            elif not quoted:
                depth += {"(": 1, ")": -1}.get(char, 0)
            i += 1
        kept.append(call.group(1))
    return _NAVIGATION.fullmatch(_AS_TYPE.sub("", "".join(kept))) is not None


def expression_roots(expression: str, resource_type: str) -> frozenset[str] | None:
    """The element names ``expression`` can start from on ``resource_type``; ``None`` if unknown.

    A branch naming another resource type (``Patient.name | Practitioner.name``)
    can never match this type's resources and adds no root.
    """
    roots: set[str] = set()
    for branch in _branches(expression):
        match = _BRANCH.match(branch.strip())
        if match is None or not _navigation_only(branch):
            return None
        type_name, element = match.groups()
        if type_name in (resource_type, "Resource", "DomainResource"):
            roots.add(element)
        elif not type_name[:1].isupper():
            return None  # e.g. `extension.value`: not a type prefix
    return frozenset(roots)


def present_roots(resource: dict[str, Any]) -> set[str]:
    """Names an expression root may have for the elements of ``resource``.

    Each JSON key counts as itself and, for choice elements (``valueQuantity``),
    as its stem (``value``); ``_birthDate`` (a primitive's extensions) counts as
    ``birthDate``. Extra stems only cause an evaluation that finds nothing.
    """
    names: set[str] = set()
    for key in resource:
        names.update(_STEMS.get(key) or _stems(key))
    return names


#: Key -> the names it stands for; JSON keys come from a small vocabulary, so this stays small.
_STEMS: dict[str, tuple[str, ...]] = {}


def _stems(key: str) -> tuple[str, ...]:
    name = key.lstrip("_")
    cut = next((i for i in range(1, len(name)) if name[i].isupper()), None)
    stems = (name,) if cut is None else (name, name[:cut])
    if len(_STEMS) < 10_000:  # keys are element names; a bound guards against odd input
        _STEMS[key] = stems
    return stems
