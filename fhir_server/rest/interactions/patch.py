"""FHIR patch interaction: JSON Patch and FHIRPath Patch.

http://hl7.org/fhir/R4/http.html#patch. ``application/json-patch+json`` bodies are
RFC 6902 JSON Patch; FHIR JSON bodies are FHIRPath Patch ``Parameters``
(http://hl7.org/fhir/R4/fhirpatch.html). ``If-Match`` is honoured; the result is
validated and stored as the next version like any update.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from conformance import fhir_json
from fhir_server.errors import BadRequest, PayloadTooLarge
from fhir_server.repository import check_resource_type
from fhir_server.rest.http import if_match_version, write_response
from fhir_server.rest.negotiation import FHIR_JSON, JSON_PATCH, PLAIN_JSON, check_request_media_type
from fhir_server.rest.request_scope import repository, server_state, transactional

_PATCH_TYPES = frozenset({JSON_PATCH, FHIR_JSON, PLAIN_JSON})


def read_patch_body() -> tuple[Any, str]:
    """The patch document and its media type.

    :raises UnsupportedMediaType: unless JSON Patch or FHIR JSON.
    :raises BadRequest: when the body is not JSON.
    """
    limit = server_state().settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"The request body has {request.content_length} bytes; this server accepts at most {limit}."
        )
    media_type = check_request_media_type(request.headers.get("Content-Type"), allowed=_PATCH_TYPES)
    try:
        return fhir_json.loads(request.get_data(cache=False)), media_type
    except fhir_json.JSONDecodeError as exc:
        raise BadRequest(f"The PATCH body is not valid JSON: {exc}.") from exc


@transactional
def patch(resource_type: str, resource_id: str) -> Response:
    """``PATCH [base]/[type]/[id]``: 200 with the patched resource."""
    check_resource_type(resource_type)
    document, media_type = read_patch_body()
    stored = repository().patch(resource_type, resource_id, document, media_type, if_match=if_match_version())
    return write_response(stored, 200, f"Patched `{stored.reference}` to version `{stored.version_id}`.")
