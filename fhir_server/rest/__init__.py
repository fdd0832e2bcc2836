"""The FHIR REST blueprint: routes, per-request repository, and OperationOutcome errors."""

from __future__ import annotations

from flask import Blueprint

from fhir_server.rest.errors import register_error_handlers
from fhir_server.rest.request_scope import register_request_scope
from fhir_server.rest.routes import register_routes

blueprint = Blueprint("fhir", __name__)
register_routes(blueprint)
register_error_handlers(blueprint)
register_request_scope(blueprint)

__all__ = ["blueprint"]
