"""Cross-check resources with the fhir.resources R4B pydantic models.

fhir.resources 8 ships no R4 models; its R4B ones match R4 for almost every
resource (same element names, array shapes and required elements, checked
against the R4 index when this module was written), differing in a few choice
types (R4B adds ``valueCodeableReference``/``valueRatioRange``/``subjectCanonical``
and drops ``valueMeta``), in Evidence and EvidenceVariable, and in the 18
R4-only resource types they lack. Where R4B and R4 disagree, R4 wins: callers
drop pydantic issues that the R4 walker contradicts.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from conformance._values import show
from conformance.issues import ValidationIssue

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic_core import ErrorDetails

#: R4 types with no R4B model, or an R4B model of a different structure.
WITHOUT_R4B_MODEL = frozenset(
    {
        "EffectEvidenceSynthesis",
        "Evidence",
        "EvidenceVariable",
        "MedicinalProduct",
        "MedicinalProductAuthorization",
        "MedicinalProductContraindication",
        "MedicinalProductIndication",
        "MedicinalProductIngredient",
        "MedicinalProductInteraction",
        "MedicinalProductManufactured",
        "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect",
        "RiskEvidenceSynthesis",
        "SubstanceNucleicAcid",
        "SubstancePolymer",
        "SubstanceProtein",
        "SubstanceReferenceInformation",
        "SubstanceSourceMaterial",
        "SubstanceSpecification",
    }
)

# pydantic error types that mean "wrong JSON shape" rather than "bad value".
_STRUCTURE_TYPES = frozenset(
    {
        "bool_type",
        "bool_parsing",
        "dict_type",
        "float_type",
        "int_type",
        "int_from_float",
        "list_type",
        "model_attributes_type",
        "model_type",
        "string_type",
    }
)
# Segments pydantic adds to `loc` for unions and validators; they are not JSON names.
_JSON_NAME = re.compile(r"_?[A-Za-z][A-Za-z0-9]*")


@cache
def r4b_model(resource_type: str) -> type[BaseModel] | None:
    """Return the R4B model class for an R4 resource type, or ``None`` where R4B has no fit."""
    if resource_type in WITHOUT_R4B_MODEL:
        return None
    # Imported here: fhir.resources takes ~0.1 s to import and the package must import fast.
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model: type[BaseModel] = get_fhir_model_class(resource_type)
    except KeyError:
        return None
    return model


def fhirpath(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into a FHIRPath.

    ``("name", 0, "family")`` becomes ``Patient.name[0].family``; the ``_birthDate``
    sibling that carries a primitive's extensions is reported as ``birthDate``.
    """
    parts = [resource_type]
    for segment in loc:
        if isinstance(segment, int):
            parts[-1] += f"[{segment}]"
        elif _JSON_NAME.fullmatch(segment):
            parts.append(segment.removeprefix("_"))
    return ".".join(parts)


def issue_from_error(resource_type: str, error: ErrorDetails) -> ValidationIssue:
    """Translate one pydantic error into a :class:`ValidationIssue`."""
    kind = error["type"]
    loc = tuple(error["loc"])
    expr = fhirpath(resource_type, loc)
    message = error["msg"].removeprefix("Value error, ").rstrip(".")
    if kind == "extra_forbidden":
        parent, _, name = expr.rpartition(".")
        return ValidationIssue("error", "structure", f"Unknown element `{name}` in `{parent}`.", expr)
    if kind == "missing":
        parent, _, name = expr.rpartition(".")
        return ValidationIssue("error", "required", f"Missing required element `{name}` in `{parent}`.", expr)
    value = show(error.get("input"))
    if kind in _STRUCTURE_TYPES:
        return ValidationIssue(
            "error", "structure", f"Value `{value}` of `{expr}` has the wrong JSON type: {_lower(message)}.", expr
        )
    if kind == "value_error" and not loc:
        # Model-level validators (e.g. "only one of value[x]") have no location.
        return ValidationIssue("error", "invalid", f"`{resource_type}` is invalid: {_lower(message)}.", None)
    return ValidationIssue("error", "value", f"Value `{value}` of `{expr}` is invalid: {_lower(message)}.", expr)


def _lower(message: str) -> str:
    return message[:1].lower() + message[1:]


def pydantic_issues(
    resource_type: str, data: dict[str, Any], ignore: frozenset[str] = frozenset()
) -> list[ValidationIssue]:
    """Validate ``data`` with the R4B model of its type; return the translated errors.

    :param resource_type: an R4 type that :func:`r4b_model` has a model for.
    :param data: the resource JSON; it must not embed resources of types listed in
        :data:`WITHOUT_R4B_MODEL`, which fhir.resources fails on with a ``KeyError``.
    :param ignore: pydantic error types to leave out, e.g. ``{"extra_forbidden"}``.
    """
    model = r4b_model(resource_type)
    if model is None:
        return []
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        return [issue_from_error(resource_type, e) for e in errors if e["type"] not in ignore]
    except (KeyError, TypeError, ValueError):
        # fhir.resources raises plain KeyError/TypeError instead of ValidationError on
        # some input (an unknown or numeric nested `resourceType`). Callers run this only
        # after the R4 walker has accepted the resource, so such a crash is the
        # library's fault, not the client's: the R4 verdict stands.
        return []
    return []
