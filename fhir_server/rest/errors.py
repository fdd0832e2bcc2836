"""Turns every error into an OperationOutcome response; never HTML, never a stack trace."""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from werkzeug.exceptions import HTTPException

from conformance.issues import ValidationIssue
from fhir_server.errors import FhirError, operation_outcome
from fhir_server.rest.http import json_response

log = logging.getLogger(__name__)

#: Werkzeug's own HTTP errors mapped to FHIR issue codes.
_HTTP_ISSUE_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}


def _fhir_error(error: FhirError) -> Response:
    return json_response(operation_outcome(error.issues), error.status, negotiate=False)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status == 404:
        message = "No FHIR interaction is defined at this URL."
    elif status == 413:
        message = "The request body is larger than this server accepts (FHIR_SERVER_MAX_BODY_BYTES)."
    else:
        message = f"{error.name}: {error.description}"
    body = operation_outcome([ValidationIssue("error", _HTTP_ISSUE_CODES.get(status, "processing"), message, None)])
    response = json_response(body, status, negotiate=False)
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _unexpected(error: Exception) -> Response:
    log.exception("Unhandled error while serving a FHIR request")
    body = operation_outcome(FhirError("The server failed to process the request; the error has been logged.").issues)
    return json_response(body, 500, negotiate=False)


def register_error_handlers(blueprint: Blueprint) -> None:
    """Install the one handler per error family.

    HTTP errors are handled app-wide because Werkzeug raises 404/405 while routing,
    before any blueprint is chosen.
    """
    blueprint.register_error_handler(FhirError, _fhir_error)
    blueprint.app_errorhandler(HTTPException)(_http_error)
    blueprint.app_errorhandler(Exception)(_unexpected)
