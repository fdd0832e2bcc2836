"""Restrict a shared R4 SearchParameter expression to one base resource type.

R4 shares one SearchParameter across many bases, with one FHIRPath branch per
base joined by ``|``, e.g. ``AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient)``.
Each resource type only needs its own branches, so the registry stores the
restricted expression and the compiler never evaluates the other 30 branches.
"""

from __future__ import annotations

import re

__all__ = ["restrict_expression", "split_union"]

# The leading type name of a branch, after any opening parentheses: `(Observation.value as Quantity)`.
_LEADING_NAME = re.compile(r"\s*\(*\s*([A-Za-z][A-Za-z0-9_]*)")
# Branches written against these abstract types apply to every resource type.
_ABSTRACT_ROOTS = frozenset({"Resource", "DomainResource"})


def split_union(expression: str) -> list[str]:
    """Split an expression on its top-level ``|`` operators (not inside parentheses or strings).

    :param expression: a FHIRPath expression.
    """
    branches: list[str] = []
    depth = 0
    quote = False
    start = 0
    index = 0
    while index < len(expression):
        char = expression[index]
        if quote:
            if char == "\\":
                index += 1  # an escaped character never closes the string
            elif char == "'":
                quote = False
        elif char == "'":
            quote = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(expression[start:index].strip())
            start = index + 1
        index += 1
    branches.append(expression[start:].strip())
    return [branch for branch in branches if branch]


def _leading_name(branch: str) -> str | None:
    match = _LEADING_NAME.match(branch)
    return match.group(1) if match else None


def restrict_expression(expression: str, resource_type: str) -> str | None:
    """Keep only the branches of ``expression`` that apply to ``resource_type``.

    Branches rooted at ``Resource`` or ``DomainResource`` apply to every type; they
    are rewritten to start at ``resource_type`` because FHIRPath engines (fhirpathpy
    among them) treat a leading type name as a filter on the focus's own type.
    Branches with no leading type name (``%resource...``) are kept as they are.

    :param expression: the SearchParameter's full expression.
    :param resource_type: the base resource type to keep.
    :returns: the restricted expression, or ``None`` when no branch applies.
    """
    kept: list[str] = []
    for branch in split_union(expression):
        name = _leading_name(branch)
        if name == resource_type:
            kept.append(branch)
        elif name in _ABSTRACT_ROOTS:
            kept.append(re.sub(rf"\b{name}\b", resource_type, branch, count=1))
        elif name is None or name[0].islower():
            kept.append(branch)  # a relative path or a variable: not tied to another type
    return " | ".join(kept) or None
