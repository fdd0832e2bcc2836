"""Processes batch and transaction Bundles for the REST API and ``fhir-server load`` alike.

http://hl7.org/fhir/R4/http.html#transaction. A transaction runs in the caller's
session and raises on the first failing entry (:class:`~fhir_server.errors.EntryFailed`
naming it), so the caller's rollback undoes every row it wrote, index rows included.
A batch runs each entry in its own SAVEPOINT and reports each entry's outcome.

Transaction steps, in order:

1. Every entry is parsed and every ``fullUrl`` checked to be unique.
2. Each write's target is resolved in processing order (DELETE, POST, PUT/PATCH):
   ids are assigned to creates and conditional requests searched *before any
   write*, so entries may refer to each other in both directions (A to B and B to A).
3. Conditional references (``Patient?identifier=...``) are resolved: first to an
   entry of this Bundle whose ``ifNoneExist`` or conditional-update URL is the same
   search, else by searching the database, which must give exactly one match.
4. References to ``fullUrl``s are rewritten to ``Type/id``.
5. Entries run in processing order (GET and HEAD last, so they see the writes);
   the response lists them in request order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fhir_server.db import begin_write
from fhir_server.errors import BadRequest, EntryFailed, FhirError, PreconditionFailed
from fhir_server.repository._bundle_entries import (
    ORDER,
    Entry,
    check_full_urls,
    conditional_references,
    parse_entry,
    rewrite_references,
)
from fhir_server.repository._bundle_execute import batchable, execute, execute_writes, failure_entry
from fhir_server.repository._conditional import criteria_pairs, find_matches, resolve_conditional_target
from fhir_server.repository.protocol import format_instant

if TYPE_CHECKING:
    from fhir_server.repository.sql import SqlRepository

_UUID_URN = "urn:uuid:"


@dataclass(frozen=True, slots=True)
class BundleOptions:
    """How to process a Bundle."""

    #: The server's FHIR base URL: absolute request URLs and fullUrls under it are local.
    base_url: str
    #: ``Prefer: return=`` of the request: ``representation``, ``minimal`` or ``OperationOutcome``.
    prefer_return: str = "representation"
    #: Page size of search entries without ``_count``.
    page_size: int = 20
    #: The most resources one conditional delete may remove (1: the spec's "single" mode).
    conditional_delete_max: int = 1
    #: ``fhir-server load``: a POST entry whose fullUrl is ``urn:uuid:X`` is stored as id ``X``
    #: (an update-as-create), so loading a file twice keeps one copy of each resource.
    ids_from_uuid: bool = False


def process_bundle(repo: SqlRepository, bundle: Any, options: BundleOptions) -> dict[str, Any]:
    """Process a ``batch`` or ``transaction`` Bundle; its ``batch-response``/``transaction-response``.

    :raises BadRequest: when the Bundle itself is malformed (type, duplicate fullUrls).
    :raises EntryFailed: when an entry of a transaction fails; nothing must then be committed.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest(
            "The request body must be a Bundle of type `batch` or `transaction`.", expression="resourceType"
        )
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise BadRequest(
            f"The Bundle's type is `{kind}`; only `batch` and `transaction` Bundles can be processed.",
            expression="Bundle.type",
        )
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list):
        raise BadRequest("The Bundle's `entry` must be a list.", expression="Bundle.entry")
    check_full_urls(raw_entries)
    begin_write(repo.session)
    run = _transaction if kind == "transaction" else _batch
    responses = run(repo, raw_entries, options)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(datetime.now(UTC))},
        "type": f"{kind}-response",
        "entry": responses,
    }


def _transaction(repo: SqlRepository, raw_entries: list[Any], options: BundleOptions) -> list[dict[str, Any]]:
    entries = [parse_entry(index, raw, options.base_url) for index, raw in enumerate(raw_entries)]
    ordered = sorted(entries, key=lambda e: (ORDER[e.method], e.index))
    targets: dict[str, str] = {}
    for entry in ordered:
        _guarded(entry, _resolve_target, repo, entry, options)
        if entry.full_url and entry.target_id and entry.method in ("POST", "PUT", "PATCH"):
            targets[entry.full_url] = f"{entry.resource_type}/{entry.target_id}"
    _check_overlap(ordered)
    searches = _conditional_urls(ordered)
    for entry in ordered:
        if entry.resource is not None and entry.method in ("POST", "PUT"):
            _guarded(entry, _link, repo, entry, targets, searches, options)
    # Deletes first, then every create and update in one batch, then the rest (PATCH, GET), in processing order.
    writes = [entry for entry in ordered if batchable(entry)]
    results = {
        entry.index: _guarded(entry, execute, repo, entry, options) for entry in ordered if entry.method == "DELETE"
    }
    results.update(execute_writes(repo, writes, options) if writes else {})
    for entry in ordered:
        if entry.index not in results:
            results[entry.index] = _guarded(entry, execute, repo, entry, options)
    return [results[index] for index in range(len(entries))]


def _batch(repo: SqlRepository, raw_entries: list[Any], options: BundleOptions) -> list[dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    parsed: list[Entry] = []
    for index, raw in enumerate(raw_entries):
        try:
            parsed.append(parse_entry(index, raw, options.base_url))
        except EntryFailed as exc:
            results[index] = failure_entry(exc)
    for entry in sorted(parsed, key=lambda e: (ORDER[e.method], e.index)):
        try:
            # Each entry is independent: its savepoint is rolled back alone when it fails.
            with repo.session.begin_nested():
                _resolve_target(repo, entry, options)
                if entry.resource is not None and entry.method in ("POST", "PUT"):
                    _link(repo, entry, {}, {}, options)
                results[entry.index] = execute(repo, entry, options)
        except FhirError as exc:
            results[entry.index] = failure_entry(entry.failed(exc))
    return [results[index] for index in range(len(raw_entries))]


def _guarded(entry: Entry, step: Any, *args: Any) -> Any:
    try:
        return step(*args)
    except FhirError as exc:
        raise entry.failed(exc) from exc


def _resolve_target(repo: SqlRepository, entry: Entry, options: BundleOptions) -> None:
    """Decide, without writing, which resource ``entry`` acts on."""
    base, kind = options.base_url, entry.resource_type
    if entry.method == "POST":
        if_none_exist = entry.request.get("ifNoneExist")
        if if_none_exist:
            entry.found = find_matches(repo, kind, criteria_pairs(if_none_exist, "ifNoneExist"), base)
            if len(entry.found) > 1:
                raise PreconditionFailed(
                    f"The ifNoneExist criteria `{if_none_exist}` match more than one `{kind}`; nothing was created."
                )
            if entry.found:
                entry.target_id, entry.matched = entry.found[0].id, True
                return
        full_url = entry.full_url or ""
        from_urn = options.ids_from_uuid and full_url.startswith(_UUID_URN)
        entry.target_id = full_url[len(_UUID_URN) :].lower() if from_urn else str(uuid.uuid4())
    elif not entry.conditional:
        entry.target_id = entry.resource_id
    elif entry.method == "DELETE":
        entry.found = find_matches(
            repo,
            kind,
            criteria_pairs(entry.query, "conditional delete"),
            base,
            limit=options.conditional_delete_max + 1,
        )
        if len(entry.found) > options.conditional_delete_max:
            raise PreconditionFailed(
                f"The conditional delete criteria `{entry.url}` match more than {options.conditional_delete_max} resource(s); nothing was deleted."
            )
    elif entry.method == "PUT":
        body_id = (entry.resource or {}).get("id")
        pairs = criteria_pairs(entry.query, "conditional update")
        entry.target_id = resolve_conditional_target(repo, kind, pairs, body_id, base) or str(uuid.uuid4())
    else:
        matches = find_matches(repo, kind, criteria_pairs(entry.query, "conditional patch"), base)
        if len(matches) != 1:
            raise PreconditionFailed(
                f"The conditional patch criteria `{entry.url}` match {len(matches)} resources, not exactly one."
            )
        entry.target_id = matches[0].id


def _check_overlap(entries: list[Entry]) -> None:
    """:raises BadRequest: when two writes act on the same resource (http.html#trules)."""
    seen: dict[tuple[str, str], int] = {}
    for entry in entries:
        if entry.method in ("GET", "HEAD") or entry.matched:
            continue
        ids = [s.id for s in entry.found] if entry.method == "DELETE" and entry.conditional else [entry.target_id]
        for resource_id in ids:
            key = (entry.resource_type, str(resource_id))
            if key in seen:
                raise BadRequest(
                    f"Bundle entries {seen[key]} and {entry.index} both change `{key[0]}/{key[1]}`; a transaction may change a resource only once."
                )
            seen[key] = entry.index


def _search_key(resource_type: str, query: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return resource_type, tuple(sorted(parse_qsl(query, keep_blank_values=True)))


def _conditional_urls(entries: list[Entry]) -> dict[tuple[str, tuple[tuple[str, str], ...]], str]:
    """The searches that name an entry of this Bundle: its ifNoneExist or conditional-update URL."""
    urls = {}
    for entry in entries:
        query = (
            entry.request.get("ifNoneExist")
            if entry.method == "POST"
            else entry.query
            if entry.method == "PUT" and entry.conditional
            else None
        )
        if query and entry.target_id:
            urls[_search_key(entry.resource_type, query)] = f"{entry.resource_type}/{entry.target_id}"
    return urls


def _link(
    repo: SqlRepository, entry: Entry, targets: dict[str, str], searches: dict[Any, str], options: BundleOptions
) -> None:
    """Resolve ``entry``'s conditional references and rewrite its references to other entries."""
    resolved = dict(targets)
    for reference in conditional_references(entry.resource):
        resource_type, _, query = reference.partition("?")
        named = searches.get(_search_key(resource_type, query))
        if named is not None:
            resolved[reference] = named
            continue
        matches = find_matches(
            repo, resource_type, criteria_pairs(query, f"conditional reference `{reference}`"), options.base_url
        )
        if not matches:
            raise BadRequest(f"The conditional reference `{reference}` matches no resource; it must match exactly one.")
        if len(matches) > 1:
            raise PreconditionFailed(
                f"The conditional reference `{reference}` matches more than one resource; it must match exactly one."
            )
        resolved[reference] = matches[0].reference
    entry.resource = rewrite_references(entry.resource, resolved)
