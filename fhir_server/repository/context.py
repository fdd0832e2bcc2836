"""Who is asking, and the single hook that decides whether they may.

Every repository interaction calls :meth:`AccessPolicy.check` once, and every
read path asks :meth:`AccessPolicy.restriction` which resources it may see, so
SMART scopes and patient context are enforced in exactly one place for REST,
HL7, DICOM and ML callers alike (:mod:`fhir_server.auth.policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The caller of a repository interaction."""

    #: Who acts: a user, a client id, or an adapter name such as ``hl7v2``.
    actor: str = "anonymous"
    #: Granted SMART scopes (empty: not restricted by scopes).
    scopes: frozenset[str] = field(default_factory=frozenset)
    #: Patient in context for patient-scoped access, if any.
    patient: str | None = None
    #: The OAuth2 client acting, and the FHIR resource the signed-in user is (``Practitioner/1``).
    client_id: str | None = None
    fhir_user: str | None = None


@dataclass(frozen=True, slots=True)
class Reach:
    """One way a caller reaches resources of a type: a compartment and/or search criteria.

    A resource is reachable when it is in ``compartment`` (``None``: any) and
    matches every ``(parameter, value)`` of ``query``.
    """

    compartment: tuple[str, str] | None
    query: tuple[tuple[str, str], ...] = ()


class AccessPolicy(Protocol):
    """Decides whether a context may perform an interaction."""

    def check(
        self,
        context: RequestContext,
        interaction: str,
        resource_type: str | None,
        resource: dict[str, Any] | None = None,
    ) -> None:
        """Return if allowed; raise :class:`fhir_server.errors.Forbidden` if not.

        :param interaction: a FHIR interaction name (``read``, ``create``...).
        """

    def restriction(self, context: RequestContext, interaction: str, resource_type: str) -> list[Reach] | None:
        """Which resources of ``resource_type`` the caller reaches for ``interaction``.

        ``None``: all of them; otherwise a resource must match one of the reaches
        (an empty list reaches none).
        """


class AllowAll:
    """Trusted in-process callers (adapters, CLI, an open server): every interaction is allowed."""

    def check(
        self,
        context: RequestContext,
        interaction: str,
        resource_type: str | None,
        resource: dict[str, Any] | None = None,
    ) -> None:
        return None

    def restriction(self, context: RequestContext, interaction: str, resource_type: str) -> list[Reach] | None:
        return None
