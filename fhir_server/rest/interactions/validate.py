"""FHIR $validate operation, at type and instance level.

http://hl7.org/fhir/R4/resource-operation-validate.html - answers 200 OK whether
or not the resource is valid; 4xx only when validation itself could not run.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from conformance.issues import ValidationIssue
from fhir_server.errors import BadRequest, operation_outcome
from fhir_server.repository import check_resource_type
from fhir_server.rest.http import json_response, read_resource_body
from fhir_server.rest.request_scope import repository

#: Modes of http://hl7.org/fhir/R4/valueset-resource-validation-mode.html we implement.
MODES = ("create", "update")


def parse_in_params(body: dict[str, Any]) -> tuple[Any, str | None]:
    """The ``resource`` and ``mode`` from a body that is either the resource or a Parameters."""
    if body.get("resourceType") != "Parameters":
        return body, None
    resource, mode = None, None
    for param in body.get("parameter") or []:
        if param.get("name") == "resource":
            resource = param.get("resource")
        elif param.get("name") == "mode":
            mode = param.get("valueCode")
    if resource is None:
        raise BadRequest("The Parameters resource has no `resource` parameter to validate.")
    if mode is not None and mode not in MODES:
        raise BadRequest(f"$validate mode `{mode}` is not supported; use one of {', '.join(MODES)}.")
    return resource, mode


def validate(resource_type: str, resource_id: str | None = None) -> Response:
    """``POST [base]/[type]/$validate`` and ``POST [base]/[type]/[id]/$validate``."""
    check_resource_type(resource_type)
    resource, mode = parse_in_params(read_resource_body())
    issues = repository().validate(resource, resource_type=resource_type)
    if resource_id is not None and isinstance(resource, dict) and resource.get("id") not in (None, resource_id):
        issues.append(
            ValidationIssue(
                "error",
                "invalid",
                f"The resource's id `{resource.get('id')}` does not match `{resource_id}` in the URL.",
                "id",
            )
        )
    if mode == "update" and isinstance(resource, dict) and not resource.get("id"):
        issues.append(ValidationIssue("error", "required", "An update needs the resource's `id`.", "id"))
    if not issues:
        issues = [ValidationIssue("information", "informational", "Validation found no issues.", None)]
    return json_response(operation_outcome(issues))
