"""Turn a parsed FHIRPath AST into nested Python closures, once per expression.

Each closure takes the focus (a list of ``(value, key)`` items, see
:mod:`fhir_server.search._fhirpath_model`) and the root item, and returns a new
list of items. Only what R4 search expressions use is compiled; anything else
raises :class:`Unsupported` so the caller can fall back to fhirpathpy.

Semantics that differ from a strict FHIRPath engine, on purpose:

* ``as``/``ofType`` filter each item instead of failing on a collection of
  several: ``Observation.component.value as Quantity`` indexes every component.
* ``resolve()`` does not fetch anything: it yields a stub of the type named in
  the reference (``Patient/1`` → a ``Patient``), which is all ``resolve() is
  Patient`` needs at index time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fhir_server.search._fhirpath_model import RESOURCE, is_a, members
from fhir_server.search._fhirpath_parser import Call, Index, Literal, Member, Node, TypeOp, Variable
from fhir_server.search._fhirpath_references import reference_type

__all__ = ["Item", "Unsupported", "compile_node"]

Item = tuple[Any, str | None]
Compiled = Callable[[list[Item], Item], list[Item]]

_ABSTRACT_ROOTS = frozenset({"Resource", "DomainResource"})


class Unsupported(Exception):
    """The expression uses FHIRPath this compiler does not handle."""


def _identity(focus: list[Item], root: Item) -> list[Item]:
    return focus


def _member(name: str, inner: Compiled) -> Compiled:
    """Navigate to a child element; lists flatten, choice types expand, resources keep their type."""
    tables: dict[str | None, Any] = {}

    def step(focus: list[Item], root: Item) -> list[Item]:
        out: list[Item] = []
        for value, key in inner(focus, root):
            if not isinstance(value, dict):
                continue
            try:
                table = tables[key]
            except KeyError:
                table = tables[key] = members(key, name)
            if table is None:  # unknown shape: read the property as written
                table = ((name, None),)
            for json_name, child_key in table:
                child = value.get(json_name)
                if child is None:
                    continue
                if isinstance(child, list):
                    for element in child:
                        if element is not None:
                            out.append((element, _resource_key(element) if child_key == RESOURCE else child_key))
                else:
                    out.append((child, _resource_key(child) if child_key in (RESOURCE, None) else child_key))
        return out

    return step


def _resource_key(value: Any) -> str | None:
    return value.get("resourceType") if isinstance(value, dict) else None


def _type_filter(type_name: str, inner: Compiled) -> Compiled:
    def step(focus: list[Item], root: Item) -> list[Item]:
        return [item for item in inner(focus, root) if is_a(item[1], type_name)]

    return step


def _where(criterion: Compiled, inner: Compiled) -> Compiled:
    def step(focus: list[Item], root: Item) -> list[Item]:
        return [item for item in inner(focus, root) if criterion([item], root) == [(True, "boolean")]]

    return step


def _resolve(inner: Compiled) -> Compiled:
    def step(focus: list[Item], root: Item) -> list[Item]:
        out: list[Item] = []
        for value, _ in inner(focus, root):
            text = value.get("reference") if isinstance(value, dict) else value if isinstance(value, str) else None
            target = reference_type(text) if isinstance(text, str) else None
            if target is not None:
                out.append(({"resourceType": target}, target))
        return out

    return step


def _extension(url: Compiled, inner: Compiled) -> Compiled:
    def step(focus: list[Item], root: Item) -> list[Item]:
        wanted = {value for value, _ in url(focus, root)}
        out: list[Item] = []
        for value, _ in inner(focus, root):
            if isinstance(value, dict):
                out.extend((ext, "Extension") for ext in value.get("extension", ()) if ext.get("url") in wanted)
        return out

    return step


def _simple_function(name: str, inner: Compiled) -> Compiled:
    """The argument-less functions: ``exists``, ``empty``, ``first``, ``last``, ``not``, ``count``."""

    def step(focus: list[Item], root: Item) -> list[Item]:
        items = inner(focus, root)
        if name == "exists":
            return [(bool(items), "boolean")]
        if name == "empty":
            return [(not items, "boolean")]
        if name == "first":
            return items[:1]
        if name == "last":
            return items[-1:]
        if name == "count":
            return [(len(items), "integer")]
        # not(): a singleton boolean negated, empty stays empty.
        return [(not items[0][0], "boolean")] if len(items) == 1 and isinstance(items[0][0], bool) else []

    return step


def _index(position: Compiled, inner: Compiled) -> Compiled:
    def step(focus: list[Item], root: Item) -> list[Item]:
        where = position(focus, root)
        items = inner(focus, root)
        if len(where) != 1 or not isinstance(where[0][0], int):
            return []
        index = where[0][0]
        return [items[index]] if 0 <= index < len(items) else []

    return step


def _union(left: Compiled, right: Compiled) -> Compiled:
    def step(focus: list[Item], root: Item) -> list[Item]:
        out: list[Item] = []
        seen: set[Any] = set()
        for item in (*left(focus, root), *right(focus, root)):
            value = item[0]
            # Containers are compared by identity: the same element reached twice is one item.
            marker = id(value) if isinstance(value, dict | list) else (type(value), value)
            if marker not in seen:
                seen.add(marker)
                out.append(item)
        return out

    return step


def _singleton(items: list[Item]) -> Any:
    return items[0][0] if len(items) == 1 else None


def _compare(op: str, left: Compiled, right: Compiled) -> Compiled:
    def step(focus: list[Item], root: Item) -> list[Item]:
        lhs, rhs = left(focus, root), right(focus, root)
        if not lhs or not rhs:
            return []
        equal = len(lhs) == len(rhs) and all(a[0] == b[0] for a, b in zip(lhs, rhs, strict=True))
        return [(equal if op == "=" else not equal, "boolean")]

    return step


def _logic(op: str, left: Compiled, right: Compiled) -> Compiled:
    """Three-valued ``and``/``or`` (fhirpath N1 §boolean-logic)."""

    def step(focus: list[Item], root: Item) -> list[Item]:
        a, b = _singleton(left(focus, root)), _singleton(right(focus, root))
        if op == "and":
            result = False if a is False or b is False else (True if a is True and b is True else None)
        else:
            result = True if a is True or b is True else (False if a is False and b is False else None)
        return [] if result is None else [(result, "boolean")]

    return step


def _literal(value: Any, type_code: str) -> Compiled:
    items: list[Item] = [(value, type_code)]
    return lambda focus, root: items


def _root(focus: list[Item], root: Item) -> list[Item]:
    return [root]


def _type_arg(node: Call) -> str:
    if len(node.args) != 1 or not isinstance(node.args[0], Literal | Member):
        raise Unsupported(f"`{node.name}()` needs one type name.")
    argument = node.args[0]
    return str(argument.value) if isinstance(argument, Literal) else argument.name


def _call(node: Call, at_root: bool) -> Compiled:
    inner = compile_node(node.target, at_root) if node.target is not None else _identity
    name = node.name
    if name in ("exists", "empty", "first", "last", "not", "count") and not node.args:
        return _simple_function(name, inner)
    if name in ("as", "ofType"):
        return _type_filter(_type_arg(node), inner)
    if name == "where" and len(node.args) == 1:
        return _where(compile_node(node.args[0], False), inner)
    if name == "resolve" and not node.args:
        return _resolve(inner)
    if name == "extension" and len(node.args) == 1:
        return _extension(compile_node(node.args[0], False), inner)
    raise Unsupported(f"The FHIRPath function `{name}()` is not compiled.")


def compile_node(node: Node | None, at_root: bool = True) -> Compiled:
    """Compile one AST node.

    :param at_root: whether a leading name may be the resource's type (``Patient.name``)
        rather than a child element, as at the start of a search expression.
    :raises Unsupported: for operators and functions outside the search subset.
    """
    if node is None:
        return _identity
    if isinstance(node, Member):
        if node.target is None and at_root and node.name[:1].isupper():
            # `Patient.name` starts with a type filter on the focus (fhirpath N1 §path-selection).
            type_name = node.name
            return lambda focus, root: [item for item in focus if item[1] == type_name or is_a(item[1], type_name)]
        target = compile_node(node.target, at_root) if node.target is not None else _identity
        return _member(node.name, target)
    if isinstance(node, Call):
        return _call(node, at_root)
    if isinstance(node, Index):
        return _index(compile_node(node.index, False), compile_node(node.target, at_root))
    if isinstance(node, TypeOp):
        operand = compile_node(node.operand, at_root)
        if node.op == "as":
            return _type_filter(node.type_name, operand)
        type_name = node.type_name

        def is_step(focus: list[Item], root: Item) -> list[Item]:
            items = operand(focus, root)
            return [(is_a(items[0][1], type_name), "boolean")] if len(items) == 1 else []

        return is_step
    if isinstance(node, Literal):
        return _literal(node.value, node.type)
    if isinstance(node, Variable):
        if node.name in ("resource", "rootResource", "context"):
            return _root
        raise Unsupported(f"The FHIRPath variable `%{node.name}` is not compiled.")
    if node.op == "|":
        return _union(compile_node(node.left, at_root), compile_node(node.right, at_root))
    if node.op in ("=", "!="):
        return _compare(node.op, compile_node(node.left, at_root), compile_node(node.right, at_root))
    if node.op in ("and", "or"):
        return _logic(node.op, compile_node(node.left, at_root), compile_node(node.right, at_root))
    raise Unsupported(f"The FHIRPath operator `{node.op}` is not compiled.")
