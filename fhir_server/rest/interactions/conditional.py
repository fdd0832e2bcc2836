"""FHIR conditional create, update and delete interactions.

http://hl7.org/fhir/R4/http.html#ccreate, http://hl7.org/fhir/R4/http.html#cond-update,
http://hl7.org/fhir/R4/http.html#3.1.0.7.1 (conditional delete). Zero matches
create (update) or change nothing (delete); one match is used; more than one is
412, except that a conditional delete removes up to
``FHIR_SERVER_CONDITIONAL_DELETE_MAX`` matches (default 1: the spec's "single" mode).
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from conformance.issues import ValidationIssue
from fhir_server.errors import MethodNotAllowed, operation_outcome
from fhir_server.repository import check_resource_type
from fhir_server.repository._conditional import conditional_create as create_unless_found
from fhir_server.repository._conditional import conditional_delete as delete_matches
from fhir_server.repository._conditional import conditional_update as update_match
from fhir_server.repository._conditional import criteria_pairs
from fhir_server.rest.http import base_url, if_match_version, json_response, read_resource_body, write_response
from fhir_server.rest.request_scope import repository, server_state, transactional


def check_type_path(resource_type: str) -> None:
    """:raises MethodNotAllowed: for ``[base]/_history``-style system paths, which ``/<type>`` also matches."""
    if resource_type.startswith("_") or resource_type == "metadata":
        raise MethodNotAllowed(f"`{request.method} [base]/{resource_type}` is not a FHIR interaction.")
    check_resource_type(resource_type)


def conditional_create(body: dict[str, Any], if_none_exist: str) -> Response:
    """``POST [base]/[type]`` with ``If-None-Exist``: 201 when created, 200 when one resource matched."""
    result = create_unless_found(repository(), body, if_none_exist, base_url())
    stored = result.stored
    if result.created:
        return write_response(stored, 201, f"Created `{stored.reference}` at version `{stored.version_id}`.")
    return write_response(
        stored, 200, f"`{stored.reference}` matches If-None-Exist `{if_none_exist}`; nothing was created."
    )


@transactional
def conditional_update(resource_type: str) -> Response:
    """``PUT [base]/[type]?criteria``: 200 updated, 201 created, 412 when several resources match."""
    check_type_path(resource_type)
    pairs = criteria_pairs(request.query_string.decode(), "conditional update")
    result = update_match(
        repository(), resource_type, pairs, read_resource_body(), base_url(), if_match=if_match_version()
    )
    stored, verb = result.stored, "Created" if result.created else "Updated"
    return write_response(
        stored, 201 if result.created else 200, f"{verb} `{stored.reference}` at version `{stored.version_id}`."
    )


@transactional
def conditional_delete(resource_type: str) -> Response:
    """``DELETE [base]/[type]?criteria``: 200 with an OperationOutcome naming what was deleted."""
    check_type_path(resource_type)
    pairs = criteria_pairs(request.query_string.decode(), "conditional delete")
    limit = server_state().settings.conditional_delete_max
    deleted = delete_matches(repository(), resource_type, pairs, base_url(), max_matches=limit)
    names = ", ".join(f"`{d.reference}`" for d in deleted)
    message = f"Deleted {names}." if deleted else f"No `{resource_type}` matched the criteria; nothing was deleted."
    return json_response(operation_outcome([ValidationIssue("information", "informational", message, None)]))
