"""Conditional create, update and delete: the target is found by search criteria.

http://hl7.org/fhir/R4/http.html#ccreate, #cond-update and #3.1.0.7.1 (conditional delete).
Criteria are searched with ``strict`` handling: an unknown or unsupported
parameter raises instead of being ignored, because an ignored criterion would
widen the match, and a conditional delete must never match more than was asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fhir_server.errors import BadRequest, PreconditionFailed
from fhir_server.repository.protocol import StoredResource, WriteResult
from fhir_server.search.query import RESULT_PARAMETERS, parse_query

if TYPE_CHECKING:
    from fhir_server.repository.sql import SqlRepository

#: Matches fetched per search round trip when every match is wanted.
_PAGE = 500


def criteria_pairs(query_string: str, what: str) -> list[tuple[str, str]]:
    """The search parameters of a conditional request's query string.

    :param what: names the request in messages, e.g. ``If-None-Exist``.
    :raises BadRequest: when there are no criteria (that would match every resource).
    """
    pairs = [(k, v) for k, v in parse_qsl(query_string.lstrip("?"), keep_blank_values=True)]
    if not [k for k, _ in pairs if k not in RESULT_PARAMETERS]:
        raise BadRequest(
            f"The {what} criteria `{query_string}` hold no search parameter, so they would match everything."
        )
    return pairs


def find_matches(
    repo: SqlRepository, resource_type: str, pairs: list[tuple[str, str]], base_url: str, *, limit: int = 2
) -> list[StoredResource]:
    """Up to ``limit`` current resources of ``resource_type`` matching ``pairs``."""
    query = parse_query(pairs)
    found: list[StoredResource] = []
    while len(found) < limit:
        result = repo.search([resource_type], query, base_url=base_url, page_size=min(_PAGE, limit), strict=True)
        found += result.matches
        if not result.next_cursor:
            break
        query.cursor = result.next_cursor
    return found[:limit]


def _describe(resource_type: str, pairs: list[tuple[str, str]]) -> str:
    return f"{resource_type}?" + "&".join(f"{k}={v}" for k, v in pairs)


def conditional_create(
    repo: SqlRepository, resource: dict[str, Any], if_none_exist: str, base_url: str, *, resource_id: str | None = None
) -> WriteResult:
    """Create ``resource`` unless ``If-None-Exist`` criteria match (then return the match, not created).

    :raises PreconditionFailed: when more than one resource matches.
    """
    resource_type = resource["resourceType"]
    pairs = criteria_pairs(if_none_exist, "If-None-Exist")
    matches = find_matches(repo, resource_type, pairs, base_url)
    if len(matches) > 1:
        raise PreconditionFailed(
            f"The If-None-Exist criteria `{_describe(resource_type, pairs)}` match more than one resource, so nothing was created."
        )
    if matches:
        return WriteResult(matches[0], False)
    return WriteResult(repo.create(resource, resource_id=resource_id), True)


def resolve_conditional_target(
    repo: SqlRepository, resource_type: str, pairs: list[tuple[str, str]], body_id: str | None, base_url: str
) -> str | None:
    """The id a conditional update writes to; ``None`` means create with a new id.

    :raises PreconditionFailed: when more than one resource matches.
    :raises BadRequest: when the body's id differs from the one match.
    """
    matches = find_matches(repo, resource_type, pairs, base_url)
    where = _describe(resource_type, pairs)
    if len(matches) > 1:
        raise PreconditionFailed(
            f"The conditional update criteria `{where}` match more than one resource; nothing was updated."
        )
    if not matches:
        return body_id
    if body_id is not None and body_id != matches[0].id:
        raise BadRequest(
            f"The conditional update criteria `{where}` match `{matches[0].reference}`, but the body's id is `{body_id}`.",
            expression="id",
        )
    return matches[0].id


def conditional_update(
    repo: SqlRepository,
    resource_type: str,
    pairs: list[tuple[str, str]],
    resource: dict[str, Any],
    base_url: str,
    *,
    if_match: int | None = None,
) -> WriteResult:
    """Update the one match, or create when nothing matches (http://hl7.org/fhir/R4/http.html#cond-update)."""
    if resource.get("resourceType") != resource_type:
        raise BadRequest(
            f"The body's `resourceType` is `{resource.get('resourceType')}`, but the URL names `{resource_type}`.",
            expression="resourceType",
        )
    target = resolve_conditional_target(repo, resource_type, pairs, resource.get("id"), base_url)
    if target is None:
        return WriteResult(repo.create(resource, method="PUT"), True)
    return repo.update(resource_type, target, {**resource, "id": target}, if_match=if_match)


def conditional_delete(
    repo: SqlRepository, resource_type: str, pairs: list[tuple[str, str]], base_url: str, *, max_matches: int = 1
) -> list[StoredResource]:
    """Delete every match, at most ``max_matches`` of them; the versions recording the deletes.

    :param max_matches: 1 is the spec's "single" mode; above it, "multiple".
    :raises PreconditionFailed: when more than ``max_matches`` resources match; nothing is deleted then.
    """
    matches = find_matches(repo, resource_type, pairs, base_url, limit=max_matches + 1)
    if len(matches) > max_matches:
        limit = "one resource" if max_matches == 1 else f"{max_matches} resources"
        raise PreconditionFailed(
            f"The conditional delete criteria `{_describe(resource_type, pairs)}` match more than {limit}; nothing was deleted."
        )
    deleted = [repo.delete(resource_type, match.id) for match in matches]
    return [d for d in deleted if d is not None]
