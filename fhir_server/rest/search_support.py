"""What the three search interactions (type, system, compartment) share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response, request

from conformance import fhir_json
from conformance.issues import ValidationIssue
from fhir_server.errors import operation_outcome
from fhir_server.repository import StoredResource
from fhir_server.repository._search import SearchResult
from fhir_server.rest.bundles import page_url, searchset_bundle
from fhir_server.rest.http import base_url, json_response
from fhir_server.rest.negotiation import check_request_media_type
from fhir_server.rest.request_scope import repository, server_state
from fhir_server.rest.subsetting import check_summary, subset
from fhir_server.search.query import SearchQuery, parse_query

_FORM = "application/x-www-form-urlencoded"


def request_pairs() -> list[tuple[str, str]]:
    """The search parameters of a GET (query string) or ``POST _search`` (form body plus query string)."""
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        if request.content_length:
            check_request_media_type(request.headers.get("Content-Type"), allowed=frozenset({_FORM}))
        pairs += list(request.form.items(multi=True))
    return pairs


def strict_handling() -> bool:
    """``Prefer: handling=strict`` (http://hl7.org/fhir/R4/search.html#errors)."""
    prefer = request.headers.get("Prefer", "")
    return any(part.strip().replace(" ", "") == "handling=strict" for part in prefer.split(","))


def run(
    types: list[str], path: str, pairs: list[tuple[str, str]], compartment: tuple[str, str] | None = None
) -> Response:
    """Search, and render the searchset Bundle with its paging links."""
    query = parse_query(pairs)
    check_summary(query.summary, allow_count=True)
    settings = server_state().settings
    page_size = min(query.count if query.count is not None else settings.default_page_size, settings.max_page_size)
    result = repository().search(
        types, query, base_url=base_url(), page_size=page_size, strict=strict_handling(), compartment=compartment
    )
    outcome = None
    if result.ignored:
        issues = [
            ValidationIssue("warning", "not-supported", f"Ignored `{name}`: {why}", None)
            for name, why in result.ignored
        ]
        outcome = operation_outcome(issues)
    links = _links(path, pairs, result, page_size)
    body = searchset_bundle(base_url(), result.matches, result.includes, links, result.total, _renderer(query), outcome)
    return json_response(body)


def _renderer(query: SearchQuery) -> Any:
    summary = None if query.summary in (None, "false", "count") else query.summary

    def render(stored: StoredResource) -> bytes | dict[str, Any]:
        assert stored.content is not None
        if summary is None and query.elements is None:
            return stored.content
        return subset(fhir_json.loads(stored.content), summary, query.elements)

    return render


def _links(path: str, pairs: Iterable[tuple[str, str]], result: SearchResult, page_size: int) -> dict[str, str]:
    kept = [(k, v) for k, v in pairs if k not in ("_cursor", "_count")] + [("_count", str(page_size))]
    links = {"self": page_url(base_url(), path, kept + [(k, v) for k, v in pairs if k == "_cursor"])}
    if result.next_cursor:
        links["next"] = page_url(base_url(), path, [*kept, ("_cursor", result.next_cursor)])
    if result.previous_cursor:
        links["previous"] = page_url(base_url(), path, [*kept, ("_cursor", result.previous_cursor)])
    return links
