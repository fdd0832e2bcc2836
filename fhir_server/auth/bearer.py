"""The resource-server half: every FHIR request is authenticated here before any view runs.

A valid token becomes the request's :class:`RequestContext` (scopes, patient,
fhirUser, client), which the repository's :class:`~fhir_server.auth.policy.SmartPolicy`
enforces. Failures are 401s with ``WWW-Authenticate: Bearer`` as RFC 6750 section 3
describes: no ``error`` when no token was sent, ``invalid_token`` otherwise.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from fhir_server.auth.tokens import InvalidToken
from fhir_server.errors import FhirError, operation_outcome
from fhir_server.repository import RequestContext

#: Paths under the FHIR base anyone may call: discovery must work before a client has a token.
PUBLIC_PATHS = frozenset({"/metadata", "/.well-known/smart-configuration"})


class Unauthorized(FhirError):
    """No usable access token: 401 with a ``WWW-Authenticate`` challenge."""

    status, code = 401, "login"

    def __init__(self, diagnostics: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(diagnostics)
        self.error = error

    @property
    def challenge(self) -> str:
        if self.error is None:
            return 'Bearer realm="fhir"'
        description = self.diagnostics.replace('"', "'")
        return f'Bearer realm="fhir", error="{self.error}", error_description="{description}"'


def unauthorized_response(error: Unauthorized) -> Response:
    from fhir_server.rest.http import json_response

    response = json_response(operation_outcome(error.issues), 401, negotiate=False)
    response.headers["WWW-Authenticate"] = error.challenge
    return response


def authenticate() -> None:
    """``before_request``: set ``g.request_context`` from the bearer token, or refuse with 401."""
    from fhir_server.rest.http import base_url
    from fhir_server.rest.request_scope import server_state

    auth = server_state().auth
    if auth is None:
        g.request_context = RequestContext(actor="rest")
        return
    path = request.path.removeprefix(request.script_root).removeprefix("/fhir")
    if (request.method == "GET" and path in PUBLIC_PATHS) or request.method == "OPTIONS":
        g.request_context = RequestContext(actor="anonymous")
        return
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("This server requires a SMART on FHIR access token (Authorization: Bearer).", error=None)
    try:
        token = auth.tokens.verify(value.strip(), audience=base_url())
    except InvalidToken as exc:
        raise Unauthorized(exc.description) from exc
    g.request_context = RequestContext(
        actor=token.subject,
        scopes=frozenset(token.scope.split()),
        patient=token.patient,
        client_id=token.client_id,
        fhir_user=token.fhir_user,
    )


def require_read_access(resource_type: str) -> None:
    """``before_request`` for data served beside the FHIR API (DICOMweb files of an ImagingStudy).

    Such data is held to the same token rules as reading ``resource_type``.
    """
    from conformance.search_parameters import default_registry
    from fhir_server.auth.policy import SmartPolicy
    from fhir_server.rest.request_scope import server_state

    authenticate()
    if server_state().auth is not None:
        context: RequestContext = g.request_context
        SmartPolicy.for_context(context, default_registry()).check(context, "read", resource_type)


def _error_response(error: FhirError) -> Response:
    from fhir_server.rest.http import json_response

    return json_response(operation_outcome(error.issues), error.status, negotiate=False)


def protect(blueprint: Blueprint, resource_type: str) -> None:
    """Require a token that may read ``resource_type`` for every route of ``blueprint``."""
    blueprint.before_request(lambda: require_read_access(resource_type))
    blueprint.register_error_handler(Unauthorized, unauthorized_response)
    blueprint.register_error_handler(FhirError, _error_response)
