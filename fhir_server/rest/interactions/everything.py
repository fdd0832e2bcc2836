"""FHIR Patient $everything operation.

http://hl7.org/fhir/R4/patient-operation-everything.html: a searchset of the
patient, the resources in its compartment and those they refer to; ``_since``,
``_type`` and ``_count`` (with ``next`` links) are supported.
"""

from __future__ import annotations

from flask import Response, request

from fhir_server.operations.everything import EverythingRequest
from fhir_server.operations.everything import everything as run_everything
from fhir_server.repository import check_resource_type
from fhir_server.rest.bundles import page_url, searchset_bundle
from fhir_server.rest.http import base_url, json_response
from fhir_server.rest.params import parse_count, parse_instant
from fhir_server.rest.request_scope import repository, server_state


def everything(resource_id: str) -> Response:
    """``GET [base]/Patient/[id]/$everything``."""
    settings = server_state().settings
    types = tuple(t for t in (request.args.get("_type") or "").split(",") if t)
    for resource_type in types:
        check_resource_type(resource_type)
    count = parse_count(request.args.get("_count"), settings.default_page_size, settings.max_page_size)
    since = parse_instant(request.args.get("_since"), "_since")
    ask = EverythingRequest(resource_id, since, types, count, request.args.get("_cursor"))
    patient, result = run_everything(repository(), ask, base_url=base_url())
    path = f"Patient/{resource_id}/$everything"
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != "_cursor"]
    links = {"self": page_url(base_url(), path, list(request.args.items(multi=True)))}
    if result.next_cursor:
        links["next"] = page_url(base_url(), path, [*kept, ("_cursor", result.next_cursor)])
    matches = ([patient] if patient else []) + result.matches
    return json_response(searchset_bundle(base_url(), matches, result.includes, links, None, lambda s: s.content))
