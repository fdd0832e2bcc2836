"""SMART enforcement: what a token's scopes and launch context let it do, as one policy.

The repository asks the policy twice per interaction (see
:class:`fhir_server.repository.context.AccessPolicy`):

- :meth:`SmartPolicy.check` before anything is read or written: does some scope
  grant this permission on this type at all? If not: 403.
- :meth:`SmartPolicy.restriction`: which resources of the type the scopes reach,
  as alternatives the repository turns into SQL on every read path (read, vread,
  search matches, includes, totals, history), so nothing outside reach is ever
  loaded, counted or linked to. A read of a resource outside reach is a 404,
  not a 403, so existence is not revealed.

``patient/`` scopes reach the launch patient's compartment (resource types that
are never in a Patient compartment, such as Medication or Organization, are
reachable whole); ``user/`` scopes reach everything, except that a user who is a
Patient is held to their own compartment; ``system/`` scopes reach everything.
A v2 scope's query (``?category=vital-signs``) must match as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.search_parameters import SearchRegistry
from fhir_server.auth.scopes import PERMISSION_OF, Grant, ResourceScope
from fhir_server.errors import Forbidden
from fhir_server.repository.context import Reach, RequestContext


@dataclass(frozen=True, slots=True)
class SmartPolicy:
    """The policy for one verified token."""

    grant: Grant
    registry: SearchRegistry

    @classmethod
    def for_context(cls, context: RequestContext, registry: SearchRegistry) -> SmartPolicy:
        return cls(Grant.parse(" ".join(sorted(context.scopes))), registry)

    def check(
        self,
        context: RequestContext,
        interaction: str,
        resource_type: str | None,
        resource: dict[str, Any] | None = None,
    ) -> None:
        permission = PERMISSION_OF.get(interaction, "r")
        types = [resource_type] if resource_type else ["*"]
        for name in types:
            scopes = self._usable(context, name, permission)
            if not scopes:
                what = f"`{name}`" if name != "*" else "every resource type"
                raise Forbidden(
                    f"The access token's scopes do not allow `{interaction}` on {what} "
                    f"(it needs a scope such as `{_example(context, name, permission)}`)."
                )

    def restriction(self, context: RequestContext, interaction: str, resource_type: str) -> list[Reach] | None:
        permission = PERMISSION_OF.get(interaction, "r")
        reaches = []
        for scope in self._usable(context, resource_type, permission):
            compartment = self._compartment(context, scope, resource_type)
            if compartment is None and not scope.query:
                return None  # one unrestricted scope reaches every resource of the type
            reaches.append(Reach(compartment, scope.query))
        return reaches

    def _usable(self, context: RequestContext, resource_type: str, permission: str) -> list[ResourceScope]:
        scopes = (
            self.grant.matching(resource_type, permission)
            if resource_type != "*"
            else [s for s in self.grant.resource_scopes if permission in s.permissions]
        )
        # A patient scope without a patient in context reaches nothing.
        return [s for s in scopes if s.context != "patient" or context.patient]

    def _compartment(self, context: RequestContext, scope: ResourceScope, resource_type: str) -> tuple[str, str] | None:
        if scope.context == "patient":
            patient = context.patient
        elif scope.context == "user" and context.fhir_user and context.fhir_user.startswith("Patient/"):
            patient = context.fhir_user.removeprefix("Patient/")
        else:
            return None
        assert patient is not None
        if resource_type != "Patient" and not self.registry.compartment_params("Patient", resource_type):
            return None  # never in any patient's compartment: reference data such as Medication
        return ("Patient", patient)


def _example(context: RequestContext, resource_type: str, permission: str) -> str:
    level = "patient" if context.patient else "user"
    return f"{level}/{resource_type if resource_type != '*' else '*'}.{permission}"
