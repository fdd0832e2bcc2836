"""The FHIR REST blueprint: routes, per-request repository, and OperationOutcome errors."""

from __future__ import annotations

from flask import Blueprint

from fhir_server.audit.recorder import register_audit
from fhir_server.auth.endpoints import smart_configuration
from fhir_server.rest.errors import register_error_handlers
from fhir_server.rest.request_scope import register_request_scope
from fhir_server.rest.routes import register_routes

blueprint = Blueprint("fhir", __name__)
register_routes(blueprint)
# SMART discovery sits at the FHIR base, as App Launch 2.2 requires.
blueprint.add_url_rule("/.well-known/smart-configuration", "smart_configuration", smart_configuration, methods=["GET"])
register_error_handlers(blueprint)
register_request_scope(blueprint)
# Every request, answered or refused, is recorded before its response is sent.
register_audit(blueprint)

__all__ = ["blueprint"]
