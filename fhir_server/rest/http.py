"""Request parsing and response building shared by the interaction views.

Resource bodies are served from the stored bytes; they are parsed only when
``_summary``, ``_elements`` or ``_pretty`` ask for a different rendering.
"""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from flask import Response, request

from conformance import fhir_json
from conformance.issues import ValidationIssue
from fhir_server.errors import BadRequest, InvalidResource, PayloadTooLarge, operation_outcome
from fhir_server.repository import StoredResource
from fhir_server.rest.negotiation import (
    FHIR_JSON,
    check_request_media_type,
    parse_etag_version,
    parse_http_date,
    parse_prefer_return,
    response_media_type,
)
from fhir_server.rest.request_scope import server_state
from fhir_server.rest.subsetting import check_summary, parse_elements, subset


def base_url() -> str:
    """The FHIR base URL used in Location headers and Bundle links."""
    configured = server_state().settings.base_url
    return configured or request.host_url.rstrip("/") + "/fhir"


def media_type() -> str:
    """The response media type this request negotiated."""
    return response_media_type(request.args.get("_format"), request.headers.get("Accept"))


def _pretty() -> bool:
    return request.args.get("_pretty", "false").lower() == "true"


def json_response(body: Any, status: int = 200, *, negotiate: bool = True) -> Response:
    """Serialize ``body`` (a dict, or already-encoded bytes) as the negotiated JSON type."""
    # Error responses skip negotiation: they must render even when negotiation is what failed.
    mimetype = media_type() if negotiate else FHIR_JSON
    if isinstance(body, bytes) and not _pretty():
        data = body
    else:
        value = fhir_json.loads(body) if isinstance(body, bytes) else body
        data = fhir_json.dumps(value, indent=_pretty())
    return Response(data, status=status, content_type=f"{mimetype}; charset=utf-8")


def version_headers(response: Response, stored: StoredResource) -> Response:
    """Set ETag and Last-Modified for a stored version."""
    response.headers["ETag"] = stored.etag
    response.headers["Last-Modified"] = format_datetime(stored.last_updated.replace(microsecond=0), usegmt=True)
    return response


def render_resource(stored: StoredResource, *, allow_count: bool = False) -> bytes | dict[str, Any]:
    """The body of a resource, subset when ``_summary``/``_elements`` ask for it."""
    assert stored.content is not None
    summary = check_summary(request.args.get("_summary"), allow_count=allow_count)
    elements = parse_elements(request.args.get("_elements"))
    if summary is None and elements is None:
        return stored.content
    return subset(fhir_json.loads(stored.content), summary, elements)


def resource_response(stored: StoredResource, status: int = 200) -> Response:
    """A read-style response: the resource with its version headers."""
    return version_headers(json_response(render_resource(stored), status), stored)


def write_response(stored: StoredResource, status: int, outcome_message: str) -> Response:
    """The response to a create or update, honouring ``Prefer: return=...``."""
    preference = parse_prefer_return(request.headers.get("Prefer"))
    if preference == "minimal":
        response = Response(b"", status=status)
    elif preference == "OperationOutcome":
        outcome = operation_outcome([ValidationIssue("information", "informational", outcome_message, None)])
        response = json_response(outcome, status)
    else:
        response = json_response(stored.content, status)
    response.headers["Location"] = f"{base_url()}/{stored.reference}/_history/{stored.version_id}"
    return version_headers(response, stored)


def read_resource_body() -> dict[str, Any]:
    """The request body as a JSON object, after media-type and size checks.

    :raises UnsupportedMediaType: unless the body is FHIR JSON.
    :raises PayloadTooLarge: above ``FHIR_SERVER_MAX_BODY_BYTES``.
    :raises InvalidResource: when the body is not JSON or not an object.
    """
    limit = server_state().settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"The request body has {request.content_length} bytes; this server accepts at most {limit}."
        )
    check_request_media_type(request.headers.get("Content-Type"))
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise BadRequest("The request body is empty; a FHIR resource was expected.")
    try:
        body = fhir_json.loads(raw)
    except fhir_json.JSONDecodeError as exc:
        issue = ValidationIssue("error", "structure", f"The request body is not valid JSON: {exc}.", None)
        raise InvalidResource([issue]) from exc
    if not isinstance(body, dict):
        issue = ValidationIssue(
            "error", "structure", "The request body must be a JSON object holding a FHIR resource.", None
        )
        raise InvalidResource([issue])
    return body


def not_modified(stored: StoredResource) -> bool:
    """Whether ``If-None-Match``/``If-Modified-Since`` let us answer 304 (http://hl7.org/fhir/R4/http.html#cread)."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or f'"{stored.version_id}"' in tags
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since:
        since = parse_http_date(if_modified_since, "If-Modified-Since")
        return stored.last_updated.replace(microsecond=0) <= since
    return False


def not_modified_response(stored: StoredResource) -> Response:
    """A 304 carrying the current version's validators."""
    return version_headers(Response(status=304), stored)


def if_match_version() -> int | None:
    """The version an ``If-Match`` header requires, if any."""
    value = request.headers.get("If-Match")
    return parse_etag_version(value, "If-Match") if value else None
