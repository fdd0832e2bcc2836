"""Runs one resolved Bundle entry and builds its ``Bundle.entry.response``.

http://hl7.org/fhir/R4/http.html#transaction-response: each response carries the
status, and for writes the location, ETag and last-modified time; the resource
itself unless ``Prefer: return=minimal``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from conformance import fhir_json
from conformance.issues import ValidationIssue
from fhir_server.errors import BadRequest, EntryFailed, operation_outcome
from fhir_server.repository._batch_write import BatchWriteFailed, PendingWrite
from fhir_server.repository._bundle_entries import Entry
from fhir_server.repository._patch import JSON_PATCH
from fhir_server.repository.protocol import StoredResource, format_instant
from fhir_server.search.query import parse_query

if TYPE_CHECKING:
    from fhir_server.repository.bundle_processor import BundleOptions
    from fhir_server.repository.sql import SqlRepository


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _etag_version(value: str | None) -> int | None:
    if not value:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise BadRequest(
            f'`ifMatch` `{value}` is not an ETag of a version, such as `W/"3"`.', expression="request.ifMatch"
        )
    return int(text)


def failure_entry(error: EntryFailed) -> dict[str, Any]:
    """A batch response entry for a failed entry: its status and OperationOutcome."""
    return {"response": {"status": _status(error.status), "outcome": operation_outcome(error.issues)}}


def _entry(
    code: int, stored: StoredResource | None, options: BundleOptions, *, write: bool = True, body: Any = None
) -> dict[str, Any]:
    response: dict[str, Any] = {"status": _status(code)}
    entry: dict[str, Any] = {}
    if stored is not None:
        if write:
            response["location"] = f"{stored.reference}/_history/{stored.version_id}"
        response["etag"] = stored.etag
        response["lastModified"] = format_instant(stored.last_updated)
        if stored.content is not None:
            entry["fullUrl"] = f"{options.base_url}/{stored.reference}"
            body = body if body is not None else orjson.Fragment(stored.content)
    if body is not None and (not write or options.prefer_return == "representation"):
        entry["resource"] = body
    if write and options.prefer_return == "OperationOutcome":
        message = f"`{stored.reference}` is at version `{stored.version_id}`." if stored else "Nothing was changed."
        response["outcome"] = operation_outcome([ValidationIssue("information", "informational", message, None)])
    entry["response"] = response
    return entry


def execute(repo: SqlRepository, entry: Entry, options: BundleOptions) -> dict[str, Any]:
    """Perform ``entry`` (its target already resolved) and return its response entry."""
    if entry.method == "DELETE":
        return _delete(repo, entry, options)
    if entry.method in ("GET", "HEAD"):
        return _get(repo, entry, options)
    resource_type, target = entry.resource_type, str(entry.target_id)
    if_match = _etag_version(entry.request.get("ifMatch"))
    if entry.method == "PATCH":
        patch, media_type = _patch_document(entry.resource)
        return _entry(200, repo.patch(resource_type, target, patch, media_type, if_match=if_match), options)
    assert entry.resource is not None
    if entry.method == "POST":
        if entry.matched:
            return _entry(200, entry.found[0], options)
        if options.ids_from_uuid:
            result = repo.update(
                resource_type, target, {**entry.resource, "id": target}, method="POST", skip_unchanged=True
            )
            return _entry(201 if result.created else 200, result.stored, options)
        return _entry(201, repo.create(entry.resource, resource_id=target), options)
    resource = entry.resource if not entry.conditional else {**entry.resource, "id": target}
    result = repo.update(resource_type, target, resource, if_match=if_match)
    return _entry(201 if result.created else 200, result.stored, options)


def batchable(entry: Entry) -> bool:
    """Whether ``entry`` is a create or update that :func:`execute_writes` can store with others."""
    if entry.method == "POST":
        return not entry.matched and entry.resource is not None
    if entry.method != "PUT" or entry.resource is None:
        return False
    # A body id that differs from the URL's is an error that update() reports.
    return entry.conditional or entry.resource.get("id") == entry.target_id


def execute_writes(repo: SqlRepository, entries: list[Entry], options: BundleOptions) -> dict[int, dict[str, Any]]:
    """Store the :func:`batchable` ``entries`` together; their response entries by entry index.

    :raises EntryFailed: naming the first refused entry; the caller rolls back.
    """
    writes = []
    for entry in entries:
        assert entry.resource is not None
        target = str(entry.target_id)
        resource = {**entry.resource, "id": target}
        if entry.method == "POST":
            fresh = not options.ids_from_uuid
            writes.append(PendingWrite(resource, method="POST", new=fresh, skip_unchanged=not fresh))
        else:
            writes.append(PendingWrite(resource, if_match=_guard_etag(entry)))
    try:
        results = repo.write_many(writes)
    except BatchWriteFailed as exc:
        raise entries[exc.position].failed(exc.error) from exc
    return {
        entry.index: _entry(201 if result.created else 200, result.stored, options)
        for entry, result in zip(entries, results, strict=True)
    }


def _guard_etag(entry: Entry) -> int | None:
    try:
        return _etag_version(entry.request.get("ifMatch"))
    except BadRequest as exc:
        raise entry.failed(exc) from exc


def _delete(repo: SqlRepository, entry: Entry, options: BundleOptions) -> dict[str, Any]:
    if entry.conditional:
        deleted = [repo.delete(entry.resource_type, match.id) for match in entry.found]
        last = next((d for d in reversed(deleted) if d is not None), None)
    else:
        if_match = _etag_version(entry.request.get("ifMatch"))
        last = repo.delete(entry.resource_type, str(entry.target_id), if_match=if_match)
    response = _entry(204, last, options)
    response.pop("fullUrl", None)
    return response


def _patch_document(resource: dict[str, Any] | None) -> tuple[Any, str]:
    """The patch an entry carries: a Binary holding a JSON Patch, or a FHIRPath Patch Parameters."""
    assert resource is not None
    if resource.get("resourceType") == "Parameters":
        return resource, "application/fhir+json"
    if resource.get("resourceType") == "Binary" and resource.get("contentType") == JSON_PATCH:
        try:
            return fhir_json.loads(base64.b64decode(resource.get("data") or "", validate=True)), JSON_PATCH
        except (binascii.Error, fhir_json.JSONDecodeError) as exc:
            raise BadRequest("The Binary's `data` is not base64-encoded JSON Patch.", expression="data") from exc
    raise BadRequest(f"A PATCH entry's resource must be a Parameters, or a Binary with contentType `{JSON_PATCH}`.")


def _get(repo: SqlRepository, entry: Entry, options: BundleOptions) -> dict[str, Any]:
    if entry.resource_id is None:
        return _search(repo, entry, options)
    if entry.version_id is not None:
        stored = repo.vread(entry.resource_type, entry.resource_id, entry.version_id)
    else:
        stored = repo.read(entry.resource_type, entry.resource_id)
        if _not_modified(entry, stored):
            return {"response": _entry(304, stored, options, write=False)["response"]}
    result = _entry(200, stored, options, write=False)
    if entry.method == "HEAD":
        result.pop("resource", None)
    return result


def _not_modified(entry: Entry, stored: StoredResource) -> bool:
    if_none_match = entry.request.get("ifNoneMatch")
    if if_none_match:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or f'"{stored.version_id}"' in tags
    if_modified_since = entry.request.get("ifModifiedSince")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            try:  # Bundle.entry.request.ifModifiedSince is a FHIR instant, not an HTTP date
                since = datetime.fromisoformat(if_modified_since)
            except ValueError as exc:
                raise BadRequest(f"`ifModifiedSince` `{if_modified_since}` is not an instant.") from exc
        return stored.last_updated.replace(microsecond=0) <= since
    return False


def _search(repo: SqlRepository, entry: Entry, options: BundleOptions) -> dict[str, Any]:
    query = parse_query(parse_qsl(entry.query, keep_blank_values=True))
    page_size = query.count if query.count is not None else options.page_size
    result = repo.search([entry.resource_type], query, base_url=options.base_url, page_size=page_size)
    found = [
        {
            "fullUrl": f"{options.base_url}/{s.reference}",
            "resource": orjson.Fragment(s.content or b"{}"),
            "search": {"mode": mode},
        }
        for mode, group in (("match", result.matches), ("include", result.includes))
        for s in group
    ]
    searchset: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        searchset["total"] = result.total
    searchset["entry"] = found
    return {"resource": searchset, "response": {"status": _status(200)}}
