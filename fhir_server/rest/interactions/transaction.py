"""FHIR transaction and batch interactions.

http://hl7.org/fhir/R4/http.html#transaction. A transaction commits only when
every entry succeeded (the request's one database transaction); a batch commits
the entries that succeeded, each having run in its own savepoint.
"""

from __future__ import annotations

from flask import Response, request

from fhir_server.repository.bundle_processor import BundleOptions, process_bundle
from fhir_server.rest.http import base_url, json_response, read_resource_body
from fhir_server.rest.negotiation import parse_prefer_return
from fhir_server.rest.request_scope import repository, server_state, transactional


def bundle_options() -> BundleOptions:
    """The processing options of this request: base URL, ``Prefer: return`` and settings."""
    settings = server_state().settings
    return BundleOptions(
        base_url=base_url(),
        prefer_return=parse_prefer_return(request.headers.get("Prefer")),
        page_size=settings.default_page_size,
        conditional_delete_max=settings.conditional_delete_max,
    )


@transactional
def transaction() -> Response:
    """``POST [base]`` with a ``batch`` or ``transaction`` Bundle: 200 with the response Bundle."""
    return json_response(process_bundle(repository(), read_resource_body(), bundle_options()))
