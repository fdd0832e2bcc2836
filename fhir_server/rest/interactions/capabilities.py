"""FHIR capabilities interaction: the CapabilityStatement, generated from the route table.

http://hl7.org/fhir/R4/http.html#capabilities
"""

from __future__ import annotations

from flask import Response

from conformance.capability import build_capability_statement
from fhir_server.auth.endpoints import security_section
from fhir_server.rest.http import base_url, json_response
from fhir_server.rest.request_scope import repository, server_state


def capabilities() -> Response:
    """``GET [base]/metadata``."""
    from fhir_server.rest.routes import ROUTES  # the table imports this module

    routed = [(route.level, route.interaction) for route in ROUTES]
    mode = "multiple" if server_state().settings.conditional_delete_max > 1 else "single"
    # The repository's registry lists the database's custom SearchParameters with the official ones.
    statement = build_capability_statement(routed, base_url(), repository().registry, conditional_delete=mode)
    if server_state().auth is not None:
        statement["rest"][0]["security"] = security_section(base_url())
    return json_response(statement)
