"""FHIR history interaction, at instance, type and system level.

http://hl7.org/fhir/R4/http.html#history
"""

from __future__ import annotations

from flask import Response, request

from fhir_server.rest.bundles import history_bundle, page_url
from fhir_server.rest.http import base_url, json_response
from fhir_server.rest.params import parse_count, parse_cursor, parse_instant
from fhir_server.rest.request_scope import repository, server_state


def history(resource_type: str | None = None, resource_id: str | None = None) -> Response:
    """``GET [base]/_history``, ``[base]/[type]/_history`` or ``[base]/[type]/[id]/_history``."""
    settings = server_state().settings
    count = parse_count(request.args.get("_count"), settings.default_page_size, settings.max_page_size)
    since = parse_instant(request.args.get("_since"), "_since")
    page = repository().history(
        resource_type, resource_id, since=since, count=count, cursor=parse_cursor(request.args.get("_cursor"))
    )
    path = "/".join(p for p in (resource_type, resource_id, "_history") if p)
    params = {"_count": str(count), "_since": request.args.get("_since")}
    next_url = page_url(base_url(), path, {**params, "_cursor": str(page.next_cursor)}) if page.next_cursor else None
    self_url = page_url(base_url(), path, {**params, "_cursor": request.args.get("_cursor")})
    return json_response(history_bundle(base_url(), page, self_url, next_url))
