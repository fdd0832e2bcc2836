"""The one route table of the FHIR REST API.

Every ``(method, path, view)`` the server answers is listed here, with the
CapabilityStatement interaction code it implements, so ``/metadata`` is generated
from what is really routed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint

from fhir_server.rest.interactions import (
    capabilities,
    conditional,
    create,
    delete,
    everything,
    history,
    lastn,
    patch,
    read,
    risk_assessment,
    search_system,
    search_type,
    transaction,
    update,
    validate,
    vread,
)


@dataclass(frozen=True, slots=True)
class Route:
    """One routed interaction."""

    method: str
    path: str
    view: Callable[..., Any]
    #: CapabilityStatement code: a TypeRestfulInteraction, SystemRestfulInteraction or ``$operation``.
    interaction: str
    #: ``instance``/``type`` (listed per resource type) or ``system``.
    level: str


ROUTES: tuple[Route, ...] = (
    Route("GET", "/metadata", capabilities.capabilities, "capabilities", "system"),
    Route("GET", "", search_system.search_system, "search-system", "system"),
    Route("POST", "", transaction.transaction, "transaction", "system"),
    Route("POST", "/_search", search_system.search_system, "search-system", "system"),
    Route("GET", "/_history", history.history, "history-system", "system"),
    Route("GET", "/<resource_type>", search_type.search_type, "search-type", "type"),
    Route("POST", "/<resource_type>/_search", search_type.search_type, "search-type", "type"),
    Route("POST", "/<resource_type>", create.create, "create", "type"),
    Route("GET", "/<resource_type>/_history", history.history, "history-type", "type"),
    Route("POST", "/<resource_type>/$validate", validate.validate, "$validate", "type"),
    Route("PUT", "/<resource_type>", conditional.conditional_update, "conditional-update", "type"),
    Route("DELETE", "/<resource_type>", conditional.conditional_delete, "conditional-delete", "type"),
    Route("GET", "/Observation/$lastn", lastn.lastn, "$lastn", "type"),
    Route("GET", "/Patient/<resource_id>/$everything", everything.everything, "$everything", "instance"),
    Route(
        "POST",
        "/<resource_type>/<resource_id>/$risk-assessment",
        risk_assessment.risk_assessment,
        "$risk-assessment",
        "instance",
    ),
    Route("GET", "/<resource_type>/<resource_id>", read.read, "read", "instance"),
    Route("PUT", "/<resource_type>/<resource_id>", update.update, "update", "instance"),
    Route("DELETE", "/<resource_type>/<resource_id>", delete.delete, "delete", "instance"),
    Route("PATCH", "/<resource_type>/<resource_id>", patch.patch, "patch", "instance"),
    Route("GET", "/<resource_type>/<resource_id>/_history", history.history, "history-instance", "instance"),
    Route("GET", "/<resource_type>/<resource_id>/_history/<version_id>", vread.vread, "vread", "instance"),
    Route("POST", "/<resource_type>/<resource_id>/$validate", validate.validate, "$validate", "instance"),
    Route(
        "GET",
        "/<compartment_type>/<compartment_id>/<resource_type>",
        search_type.search_compartment,
        "search-type",
        "type",
    ),
)


def register_routes(blueprint: Blueprint) -> None:
    """Add every route of :data:`ROUTES` to ``blueprint``."""
    for index, route in enumerate(ROUTES):
        blueprint.add_url_rule(
            route.path, endpoint=f"{route.view.__name__}_{index}", view_func=route.view, methods=[route.method]
        )
