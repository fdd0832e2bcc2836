"""FHIR Observation $lastn operation.

http://hl7.org/fhir/R4/observation-operation-lastn.html: the most recent ``max``
Observations per patient and code, for the Observation search criteria given.
"""

from __future__ import annotations

from flask import Response, request

from fhir_server.operations.lastn import lastn as run_lastn
from fhir_server.operations.lastn import parse_max
from fhir_server.rest.bundles import page_url, searchset_bundle
from fhir_server.rest.http import base_url, json_response
from fhir_server.rest.request_scope import repository


def lastn() -> Response:
    """``GET [base]/Observation/$lastn?patient=...&category=...&max=N``."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k not in ("max", "_format", "_pretty")]
    chosen = run_lastn(repository(), pairs, parse_max(request.args.get("max")), base_url=base_url())
    links = {"self": page_url(base_url(), "Observation/$lastn", list(request.args.items(multi=True)))}
    return json_response(searchset_bundle(base_url(), chosen, [], links, len(chosen), lambda s: s.content))
