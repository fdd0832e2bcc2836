"""The result type of validation: one problem found in a resource.

Each :class:`ValidationIssue` maps one-to-one onto an ``OperationOutcome.issue``
(https://hl7.org/fhir/R4/operationoutcome.html); turning a list of them into an
OperationOutcome is left to the REST layer's single error handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Severity", "ValidationIssue"]

#: The ``OperationOutcome.issue.severity`` codes (IssueSeverity value set).
Severity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem found while validating a resource.

    .. versionadded:: 0.1
    """

    #: ``"error"``, ``"warning"`` or ``"information"`` (IssueSeverity).
    severity: Severity
    #: IssueType code, e.g. ``"structure"``, ``"required"``, ``"value"``, ``"invalid"``
    #: or ``"not-supported"`` (https://hl7.org/fhir/R4/valueset-issue-type.html).
    code: str
    #: A whole sentence naming the offending element or value in backticks.
    diagnostics: str
    #: FHIRPath of the offending element, e.g. ``"Patient.name[0].family"``; ``None``
    #: when the problem concerns the document as a whole.
    expression: str | None = None

    @property
    def is_error(self) -> bool:
        """Whether the issue makes the resource unacceptable (``fatal`` or ``error``)."""
        return self.severity in ("fatal", "error")
