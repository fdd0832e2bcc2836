"""Validate FHIR R4 resources on their way into the server.

Two validators run, one after the other:

1. The R4 walker (:mod:`conformance._walker`) checks every element against the
   index generated from the official R4 4.0.1 StructureDefinitions. It alone
   decides which element names exist, so R4B-only elements and resource types
   are rejected, and it is the only check for the 20 R4 types that R4B lacks.
   When it finds no error it evaluates the R4 invariants (``constraint`` of
   the StructureDefinitions, :mod:`conformance._invariants`) at every instance
   it met: ``error`` ones reject, ``warning`` ones are for ``$validate``.
2. When the walker finds no error, the fhir.resources R4B pydantic model of the
   resource type, where one fits (:mod:`conformance._pydantic`), gives a second
   opinion. It runs second because it stops at the first broken object and so
   misses problems the walker reports, and because it can crash on input the
   walker rejects (a non-string nested ``resourceType`` raises ``TypeError``).
"""

from __future__ import annotations

from typing import Any

from conformance._pydantic import WITHOUT_R4B_MODEL, pydantic_issues, r4b_model
from conformance._walker import Walker
from conformance.issues import ValidationIssue

__all__ = ["set_r4b_crosscheck", "validate_resource"]

#: Whether :func:`validate_resource` runs the R4B models by default in this process.
_r4b_crosscheck = True


def set_r4b_crosscheck(enabled: bool) -> None:
    """Turn the R4B pydantic second opinion on or off for this process (``FHIR_SERVER_R4B_CROSSCHECK``).

    The walker alone checks every element against the R4 definitions; the
    pydantic pass costs about three times as much again (``bench/bench_validation.py``).
    """
    global _r4b_crosscheck  # noqa: PLW0603 - a process-wide setting, made once at start-up
    _r4b_crosscheck = enabled


# R4B's element names differ from R4's (`valueMeta` is R4-only); the walker has
# already judged every name against R4, so pydantic's verdict on names is moot.
_IGNORED_PYDANTIC_ERRORS = frozenset({"extra_forbidden"})


def validate_resource(data: dict[str, Any], *, use_r4b_models: bool | None = None) -> list[ValidationIssue]:
    """Validate one resource as FHIR R4 (4.0.1) JSON.

    Resources nested in ``contained``, ``Bundle.entry.resource`` and
    ``Parameters.parameter.resource`` are validated too, with FHIRPaths that
    run through their container (``Bundle.entry[0].resource.status``).

    :param data: the parsed JSON body.
    :param use_r4b_models: also run the R4B pydantic model where one fits; by
        default as :func:`set_r4b_crosscheck` set it (on unless configured off). The
        R4 walker covers R4 on its own; turning this off gives several times the
        throughput (see ``bench/bench_validation.py``).
    :return: the problems found, in document order. Without an error among them the
        resource is valid: warnings (``extensible`` and ``preferred`` terminology
        binding misses) are for ``$validate`` to report, not for a write to refuse.

    .. versionadded:: 0.1
    """
    if use_r4b_models is None:
        use_r4b_models = _r4b_crosscheck
    walker = Walker()
    walker.resource(data)
    walker.invariants()
    # Warnings (extensible and preferred binding misses) leave the resource valid,
    # so only an error spares the second opinion.
    if not use_r4b_models or any(issue.is_error for issue in walker.issues):
        return walker.issues
    rtype = data["resourceType"]  # the walker has vetted it
    if r4b_model(rtype) is None or walker.nested_types & WITHOUT_R4B_MODEL:
        # No R4B model fits the resource or one it embeds (fhir.resources raises
        # KeyError on those); the walker's full R4 check stands alone.
        return walker.issues
    return walker.issues + pydantic_issues(rtype, data, ignore=_IGNORED_PYDANTIC_ERRORS)
