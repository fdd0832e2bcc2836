"""FHIR capabilities interaction: the CapabilityStatement, generated from the route table.

http://hl7.org/fhir/R4/http.html#capabilities
"""

from __future__ import annotations

from flask import Response

from conformance.capability import build_capability_statement
from fhir_server.rest.http import base_url, json_response


def capabilities() -> Response:
    """``GET [base]/metadata``."""
    from fhir_server.rest.routes import ROUTES  # the table imports this module

    routed = [(route.level, route.interaction) for route in ROUTES]
    return json_response(build_capability_statement(routed, base_url()))
