"""The one error hierarchy of the server; each error becomes an OperationOutcome.

::

    FhirError (500, exception)
    ├── BadRequest (400, invalid)
    │   └── InvalidResource (400, invalid; or 422 with ``status=422``) - carries issues
    ├── Forbidden (403, forbidden)
    ├── NotFound (404, not-found)
    │   └── UnknownResourceType (404, not-supported)
    ├── MethodNotAllowed (405, not-supported)
    ├── NotAcceptable (406, not-supported)
    ├── Conflict (409, conflict)
    ├── Gone (410, deleted)
    ├── PreconditionFailed (412, conflict)
    ├── PayloadTooLarge (413, too-costly)
    ├── UnsupportedMediaType (415, not-supported)
    ├── UnprocessableEntity (422, processing) - e.g. a patch that cannot be applied
    └── EntryFailed (the failed entry's status and code) - a Bundle entry's error, naming the entry

Raised anywhere (repository, REST layer, adapters); the REST blueprint registers a
single handler that renders :func:`operation_outcome`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.issues import ValidationIssue


class FhirError(Exception):
    """Base of every error the server reports to a client."""

    #: HTTP status code of the response.
    status = 500
    #: FHIR IssueType code (http://hl7.org/fhir/R4/valueset-issue-type.html).
    code = "exception"

    def __init__(self, diagnostics: str, *, expression: str | None = None) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.expression = expression

    @property
    def issues(self) -> list[ValidationIssue]:
        """The issues of the OperationOutcome this error becomes."""
        return [ValidationIssue("error", self.code, self.diagnostics, self.expression)]


class BadRequest(FhirError):
    status, code = 400, "invalid"


class InvalidResource(BadRequest):
    """A resource failed validation; carries every issue found, not just the first."""

    def __init__(self, issues: Sequence[ValidationIssue], *, status: int = 400) -> None:
        first = issues[0].diagnostics if issues else "The resource is invalid."
        super().__init__(first)
        self._issues = list(issues)
        self.status = status

    @property
    def issues(self) -> list[ValidationIssue]:
        return self._issues


class Forbidden(FhirError):
    status, code = 403, "forbidden"


class NotFound(FhirError):
    status, code = 404, "not-found"


class UnknownResourceType(NotFound):
    code = "not-supported"


class MethodNotAllowed(FhirError):
    status, code = 405, "not-supported"


class NotAcceptable(FhirError):
    status, code = 406, "not-supported"


class Conflict(FhirError):
    status, code = 409, "conflict"


class Gone(FhirError):
    status, code = 410, "deleted"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class PayloadTooLarge(FhirError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class UnprocessableEntity(FhirError):
    status, code = 422, "processing"


class EntryFailed(FhirError):
    """An entry of a transaction Bundle failed, so the whole transaction did.

    Keeps the entry's own status and issue code, and prefixes each issue with the
    entry index and request so the client knows which entry to fix.
    """

    def __init__(self, index: int, request_line: str, cause: FhirError) -> None:
        super().__init__(f"Bundle entry {index} (`{request_line}`) failed: {cause.diagnostics}")
        self.status, self.code = cause.status, cause.code
        self.index = index
        self._issues = [
            ValidationIssue(
                issue.severity,
                issue.code,
                f"Bundle entry {index} (`{request_line}`) failed: {issue.diagnostics}",
                _entry_expression(index, issue.expression),
            )
            for issue in cause.issues
        ]

    @property
    def issues(self) -> list[ValidationIssue]:
        return self._issues


def _entry_expression(index: int, expression: str | None) -> str:
    """``Patient.name[0]`` of entry 3 becomes ``Bundle.entry[3].resource.name[0]``."""
    if not expression:
        return f"Bundle.entry[{index}]"
    head, _, rest = expression.partition(".")
    if head[:1].isupper():  # a resource type: the entry's resource stands in for it
        return f"Bundle.entry[{index}].resource" + (f".{rest}" if rest else "")
    return f"Bundle.entry[{index}].resource.{expression}"


def operation_outcome(issues: Sequence[ValidationIssue]) -> dict[str, Any]:
    """Render issues as an R4 OperationOutcome resource."""
    rendered = []
    for issue in issues:
        item: dict[str, Any] = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": issue.diagnostics,
        }
        if issue.expression:
            item["expression"] = [issue.expression]
        rendered.append(item)
    return {"resourceType": "OperationOutcome", "issue": rendered}
