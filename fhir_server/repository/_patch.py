"""PATCH: JSON Patch (RFC 6902) and the dispatch to FHIRPath Patch.

http://hl7.org/fhir/R4/http.html#patch. The patched resource is stored through
:meth:`SqlRepository.update` with ``method="PATCH"``, so it is validated,
versioned and indexed like any other write. JSON Patch is implemented here (about
a hundred lines) rather than adding a dependency.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from conformance import fhir_json
from fhir_server.errors import BadRequest, Gone, NotFound, PreconditionFailed, UnprocessableEntity
from fhir_server.repository.protocol import StoredResource

if TYPE_CHECKING:
    from fhir_server.repository.sql import SqlRepository

JSON_PATCH = "application/json-patch+json"
_MISSING = object()


def patch_resource(
    repo: SqlRepository, resource_type: str, resource_id: str, patch: Any, media_type: str, *, if_match: int | None
) -> StoredResource:
    """Lock the current version, patch it and store the result as the next version.

    The row lock (taken before reading) means a concurrent update cannot slip in
    between reading the version we patch and writing its successor.
    """
    from fhir_server.db import begin_write
    from fhir_server.repository.sql import check_id, check_resource_type

    check_resource_type(resource_type)
    check_id(resource_id)
    begin_write(repo.session)
    current = repo._lock_current(resource_type, resource_id)
    if current is None:
        raise NotFound(f"Resource `{resource_type}/{resource_id}` was not found, so it cannot be patched.")
    # Outside the caller's reach it must look missing, before the patch can say anything about it.
    repo._require_stored_in_reach("patch", resource_type, resource_id)
    _, version, deleted, content = current
    if deleted:
        raise Gone(
            f"Resource `{resource_type}/{resource_id}` was deleted (version `{version}`), so it cannot be patched."
        )
    if if_match is not None and if_match != version:
        raise PreconditionFailed(
            f"`{resource_type}/{resource_id}` is at version `{version}`, not the If-Match version `{if_match}`."
        )
    result = patched(fhir_json.loads(content), patch, media_type)
    if result.get("resourceType") != resource_type or result.get("id") != resource_id:
        raise UnprocessableEntity(
            f"The patch must not change the `resourceType` or `id` of `{resource_type}/{resource_id}`."
        )
    return repo.update(resource_type, resource_id, result, if_match=version, method="PATCH").stored


def patched(resource: dict[str, Any], patch: Any, media_type: str) -> dict[str, Any]:
    """``resource`` with ``patch`` applied; ``resource`` itself is left unchanged.

    :param media_type: ``application/json-patch+json``, or a FHIR JSON type for a FHIRPath Patch Parameters.
    :raises BadRequest: when the patch document is malformed.
    :raises UnprocessableEntity: when it cannot be applied (a failed ``test``, a missing path).
    """
    if media_type == JSON_PATCH:
        return apply_json_patch(resource, patch)
    if isinstance(patch, dict) and patch.get("resourceType") == "Parameters":
        from fhir_server.repository._fhirpath_patch import apply_fhirpath_patch

        return apply_fhirpath_patch(resource, patch)
    raise BadRequest(f"A PATCH body must be a JSON Patch (`{JSON_PATCH}`) or a FHIRPath Patch `Parameters` resource.")


def apply_json_patch(document: Any, operations: Any) -> Any:
    """Apply RFC 6902 ``operations`` to a copy of ``document``; all or nothing."""
    if not isinstance(operations, list):
        raise BadRequest("A JSON Patch document must be a JSON array of operations.")
    result = copy.deepcopy(document)
    for number, operation in enumerate(operations):
        if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
            raise BadRequest(f"JSON Patch operation {number} must be an object with a string `path`.")
        result = _apply_one(result, operation, number)
    return result


def _pointer(path: str, number: int) -> list[str]:
    """RFC 6901: ``/a/b~1c`` is ``["a", "b/c"]``."""
    if path == "":
        return []
    if not path.startswith("/"):
        raise BadRequest(
            f"JSON Patch operation {number} has path `{path}`, which is not a JSON Pointer starting with `/`."
        )
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, number: int, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise UnprocessableEntity(f"JSON Patch operation {number}: `{token}` is not an array index.")
    index = int(token)
    if index > len(container) or (not for_add and index == len(container)):
        raise UnprocessableEntity(f"JSON Patch operation {number}: index `{index}` is out of range.")
    return index


def _parent(document: Any, tokens: list[str], number: int) -> Any:
    node = document
    for token in tokens[:-1]:
        node = _child(node, token, number)
    return node


def _child(node: Any, token: str, number: int) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, number, for_add=False)]
    raise UnprocessableEntity(f"JSON Patch operation {number}: the path element `{token}` does not exist.")


def _get(document: Any, path: str, number: int) -> Any:
    node = document
    for token in _pointer(path, number):
        node = _child(node, token, number)
    return node


def _add(document: Any, path: str, value: Any, number: int) -> Any:
    tokens = _pointer(path, number)
    if not tokens:
        return value
    parent = _parent(document, tokens, number)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], number, for_add=True), value)
    else:
        raise UnprocessableEntity(f"JSON Patch operation {number}: `{path}` is not inside an object or array.")
    return document


def _remove(document: Any, path: str, number: int) -> tuple[Any, Any]:
    tokens = _pointer(path, number)
    if not tokens:
        raise UnprocessableEntity(f"JSON Patch operation {number}: the whole document cannot be removed.")
    parent = _parent(document, tokens, number)
    if isinstance(parent, dict) and tokens[-1] in parent:
        return document, parent.pop(tokens[-1])
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, tokens[-1], number, for_add=False))
    raise UnprocessableEntity(f"JSON Patch operation {number}: `{path}` does not exist, so it cannot be removed.")


def _apply_one(document: Any, operation: dict[str, Any], number: int) -> Any:
    op, path = operation.get("op"), operation["path"]
    value = operation.get("value", _MISSING)
    if op in ("add", "replace", "test") and value is _MISSING:
        raise BadRequest(f"JSON Patch operation {number} (`{op}`) needs a `value`.")
    if op in ("move", "copy") and not isinstance(operation.get("from"), str):
        raise BadRequest(f"JSON Patch operation {number} (`{op}`) needs a string `from`.")
    if op == "add":
        return _add(document, path, copy.deepcopy(value), number)
    if op == "remove":
        return _remove(document, path, number)[0]
    if op == "replace":
        document, _ = _remove(document, path, number) if _pointer(path, number) else (document, None)
        return _add(document, path, copy.deepcopy(value), number)
    if op == "move":
        document, moved = _remove(document, operation["from"], number)
        return _add(document, path, moved, number)
    if op == "copy":
        return _add(document, path, copy.deepcopy(_get(document, operation["from"], number)), number)
    if op == "test":
        if _get(document, path, number) != value:
            raise UnprocessableEntity(f"JSON Patch operation {number}: the `test` of `{path}` failed.")
        return document
    raise BadRequest(
        f"JSON Patch operation {number} has unknown `op` `{op}`; use add, remove, replace, move, copy or test."
    )
