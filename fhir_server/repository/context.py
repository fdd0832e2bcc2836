"""Who is asking, and the single hook that decides whether they may.

Every repository interaction calls :meth:`AccessPolicy.check` once, so SMART
scopes and patient context can later be enforced in exactly one place for REST,
HL7, DICOM and ML writers alike.
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


class AllowAll:
    """The policy until SMART authorization lands: every interaction is allowed."""

    def check(
        self,
        context: RequestContext,
        interaction: str,
        resource_type: str | None,
        resource: dict[str, Any] | None = None,
    ) -> None:
        return None
