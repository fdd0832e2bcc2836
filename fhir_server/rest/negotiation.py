"""HTTP content negotiation for the FHIR REST API (http://hl7.org/fhir/R4/http.html#mime-type).

Pure functions over header and parameter strings, so they are tested without Flask.
JSON is the only format served; XML requests get a precise 406/415.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

from fhir_server.errors import BadRequest, NotAcceptable, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
PLAIN_JSON = "application/json"
JSON_PATCH = "application/json-patch+json"
_JSON_TYPES = {FHIR_JSON, PLAIN_JSON, "text/json"}
_FORMAT_ALIASES = {"json": FHIR_JSON, FHIR_JSON: FHIR_JSON, PLAIN_JSON: PLAIN_JSON, "text/json": PLAIN_JSON}
_XML_FORMATS = {"xml", "text/xml", "application/xml", "application/fhir+xml", "ttl", "text/turtle", "html", "text/html"}


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    kind, *params = (part.strip() for part in value.split(";"))
    parsed = {}
    for param in params:
        name, _, val = param.partition("=")
        parsed[name.strip().lower()] = val.strip().strip('"')
    return kind.lower(), parsed


def _check_fhir_version(params: dict[str, str], header: str) -> None:
    version = params.get("fhirversion")
    if version is not None and version not in ("4.0", "4.0.1"):
        raise NotAcceptable(f"This server speaks FHIR 4.0 only; `{header}` asks for fhirVersion `{version}`.")


def response_media_type(format_param: str | None, accept: str | None) -> str:
    """The media type to answer with, from ``_format`` (which wins) or ``Accept``.

    :raises NotAcceptable: when only formats other than JSON are acceptable.
    """
    if format_param:
        chosen = _FORMAT_ALIASES.get(_media_type(format_param)[0])
        if chosen is None:
            raise NotAcceptable(
                f"`_format={format_param}` is not supported; this server returns JSON only (`_format=json`)."
            )
        return chosen
    if not accept:
        return FHIR_JSON
    for item in accept.split(","):
        kind, params = _media_type(item)
        if kind in _JSON_TYPES or kind in ("*/*", "application/*"):
            _check_fhir_version(params, item.strip())
            return PLAIN_JSON if kind in (PLAIN_JSON, "text/json") else FHIR_JSON
    raise NotAcceptable(
        f"None of the media types in `Accept: {accept}` can be served; this server returns `{FHIR_JSON}`."
    )


def check_request_media_type(content_type: str | None, *, allowed: frozenset[str] = frozenset(_JSON_TYPES)) -> str:
    """The request body's media type, if one we read.

    :raises UnsupportedMediaType: on a missing or non-JSON ``Content-Type``.
    """
    if not content_type:
        raise UnsupportedMediaType(f"The request has a body but no `Content-Type`; send `{FHIR_JSON}`.")
    kind, params = _media_type(content_type)
    if kind not in allowed:
        accepted = ", ".join(f"`{t}`" for t in sorted(allowed))
        raise UnsupportedMediaType(f"`Content-Type: {content_type}` is not supported here; use one of {accepted}.")
    _check_fhir_version(params, content_type)
    return kind


def parse_etag_version(value: str, header: str) -> int:
    """The version number in an ETag such as ``W/"3"``.

    :raises BadRequest: when it is not a weak or strong ETag of a version number.
    """
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise BadRequest(f'`{header}: {value}` is not an ETag of a version, such as `W/"3"`.')
    return int(text)


def parse_http_date(value: str, header: str) -> datetime:
    """An HTTP date such as ``Wed, 25 Nov 2026 10:00:00 GMT``.

    :raises BadRequest: when it cannot be parsed.
    """
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"`{header}: {value}` is not an HTTP date.") from exc


def parse_prefer_return(prefer: str | None) -> str:
    """The ``return=`` preference: ``minimal``, ``representation`` (default) or ``OperationOutcome``."""
    for part in (prefer or "").split(","):
        for token in part.split(";"):
            name, _, value = token.strip().partition("=")
            if name.strip().lower() == "return":
                value = value.strip().strip('"')
                if value in ("minimal", "representation", "OperationOutcome"):
                    return value
    return "representation"
