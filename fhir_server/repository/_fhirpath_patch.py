"""FHIRPath Patch: a ``Parameters`` resource of add/insert/delete/replace/move operations.

http://hl7.org/fhir/R4/fhirpatch.html. Paths are the common subset of FHIRPath:
``Type.element.element``, indexers ``name[0]``, ``where(child='literal')``,
``first()`` and ``last()``. Whether an added element repeats comes from the R4
element definitions, so ``add`` of a ``name`` makes a list and of a ``birthDate`` does not.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from conformance._definitions import definitions
from fhir_server.errors import BadRequest, UnprocessableEntity

_STEP = re.compile(
    r"\s*(?:where\(\s*([A-Za-z0-9_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^)\s]+)\s*\)|(first|last)\(\)|([A-Za-z][A-Za-z0-9_]*))(\[(\d+)\])?\s*(\.|$)"
)


@dataclass
class _Node:
    """One element a path selects, with where it lives so it can be changed."""

    value: Any
    container: Any
    key: str | None
    #: Position in ``container[key]`` when that is a list.
    index: int | None


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("\\'", "'")
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text


def select(resource: dict[str, Any], path: str) -> tuple[list[_Node], str | None]:
    """The nodes ``path`` selects, and the element-definition context of what it selects."""
    head, _, rest = path.partition(".")
    if head != resource.get("resourceType"):
        raise UnprocessableEntity(f"The FHIRPath Patch path `{path}` must start with `{resource.get('resourceType')}`.")
    nodes, context = [_Node(resource, None, None, None)], resource.get("resourceType")
    position = 0
    while position < len(rest):
        match = _STEP.match(rest, position)
        if not match:
            raise BadRequest(f"The FHIRPath Patch path `{path}` uses syntax this server does not support.")
        position = match.end()
        where_name, where_value, function, name, _, index = match.groups()[:6]
        if name is not None:
            nodes, context = _children(nodes, name), _child_context(context, name)
        elif where_name is not None:
            wanted = _literal(where_value)
            nodes = [n for n in nodes if isinstance(n.value, dict) and n.value.get(where_name) == wanted]
        elif function is not None:
            nodes = nodes[:1] if function == "first" else nodes[-1:]
        if index is not None:
            nodes = nodes[int(index) : int(index) + 1]
    return nodes, context


def _children(nodes: list[_Node], name: str) -> list[_Node]:
    out = []
    for node in nodes:
        if not isinstance(node.value, dict) or name not in node.value:
            continue
        child = node.value[name]
        if isinstance(child, list):
            out += [_Node(item, node.value, name, i) for i, item in enumerate(child)]
        else:
            out.append(_Node(child, node.value, name, None))
    return out


def _child_context(context: str | None, name: str) -> str | None:
    element = definitions().contexts[context].elements.get(name) if context in definitions().contexts else None
    return element.children if element is not None else None


def _repeats(context: str | None, name: str) -> bool:
    element = definitions().contexts[context].elements.get(name) if context in definitions().contexts else None
    return bool(element and element.many)


def _value(part: dict[str, Any]) -> Any:
    """The value of a ``value`` part: a ``value[x]``, or nested parts making an anonymous element."""
    for key, value in part.items():
        if key.startswith("value"):
            return copy.deepcopy(value)
    built: dict[str, Any] = {}
    for child in part.get("part") or []:
        name, value = child.get("name"), _value(child)
        if name in built:
            built[name] = (built[name] if isinstance(built[name], list) else [built[name]]) + [value]
        else:
            built[name] = value
    if not built:
        raise BadRequest("A FHIRPath Patch `value` part has neither a `value[x]` nor parts.")
    return built


def _operation(parameter: dict[str, Any], number: int) -> dict[str, Any]:
    if parameter.get("name") != "operation":
        raise BadRequest(
            f"FHIRPath Patch parameter {number} is `{parameter.get('name')}`; only `operation` parameters are allowed."
        )
    parts: dict[str, Any] = {}
    for part in parameter.get("part") or []:
        parts[part.get("name")] = (
            _value(part)
            if part.get("name") == "value"
            else next((v for k, v in part.items() if k.startswith("value")), None)
        )
    for required in ("type", "path"):
        if parts.get(required) is None:
            raise BadRequest(f"FHIRPath Patch operation {number} has no `{required}`.")
    return parts


def apply_fhirpath_patch(resource: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Apply every operation of ``parameters`` to a copy of ``resource``; all or nothing."""
    result = copy.deepcopy(resource)
    for number, parameter in enumerate(parameters.get("parameter") or []):
        op = _operation(parameter, number)
        _apply(result, op, number)
    return result


def _one(nodes: list[_Node], op: dict[str, Any], number: int) -> _Node:
    if len(nodes) != 1:
        raise UnprocessableEntity(
            f"FHIRPath Patch operation {number} (`{op['type']}`): the path `{op['path']}` selects {len(nodes)} elements, not exactly one."
        )
    return nodes[0]


def _list_of(nodes: list[_Node], op: dict[str, Any], number: int) -> list[Any]:
    if not nodes or nodes[0].index is None:
        raise UnprocessableEntity(
            f"FHIRPath Patch operation {number} (`{op['type']}`): `{op['path']}` is not a non-empty list."
        )
    values: list[Any] = nodes[0].container[nodes[0].key]
    return values


def _position(op: dict[str, Any], name: str, size: int, number: int) -> int:
    value = op.get(name)
    if not isinstance(value, int) or not 0 <= value <= size:
        raise UnprocessableEntity(
            f"FHIRPath Patch operation {number}: `{name}` `{value}` is not an index from 0 to {size}."
        )
    return value


def _apply(resource: dict[str, Any], op: dict[str, Any], number: int) -> None:
    kind, path = op["type"], op["path"]
    nodes, context = select(resource, path)
    if kind == "add":
        target, name = _one(nodes, op, number), op.get("name")
        if not isinstance(name, str) or "value" not in op or not isinstance(target.value, dict):
            raise BadRequest(
                f"FHIRPath Patch operation {number} (`add`) needs a `name`, a `value` and a path to an element."
            )
        existing = target.value.get(name)
        if isinstance(existing, list) or (existing is None and _repeats(context, name)):
            target.value[name] = (existing or []) + [op["value"]]
        elif existing is None:
            target.value[name] = op["value"]
        else:
            raise UnprocessableEntity(
                f"FHIRPath Patch operation {number}: `{path}.{name}` already has a value; use `replace`."
            )
    elif kind == "insert":
        values = _list_of(nodes, op, number)
        values.insert(_position(op, "index", len(values), number), op.get("value"))
    elif kind == "delete":
        if nodes:
            node = _one(nodes, op, number)
            if node.index is None:
                del node.container[node.key]
            else:
                node.container[node.key].pop(node.index)
                if not node.container[node.key]:
                    del node.container[node.key]
    elif kind == "replace":
        node = _one(nodes, op, number)
        if "value" not in op or node.container is None:
            raise BadRequest(f"FHIRPath Patch operation {number} (`replace`) needs a `value` and a path to an element.")
        if node.index is None:
            node.container[node.key] = op["value"]
        else:
            node.container[node.key][node.index] = op["value"]
    elif kind == "move":
        values = _list_of(nodes, op, number)
        moved = values.pop(_position(op, "source", len(values) - 1, number))
        values.insert(_position(op, "destination", len(values), number), moved)
    else:
        raise BadRequest(
            f"FHIRPath Patch operation {number} has unknown type `{kind}`; use add, insert, delete, replace or move."
        )
