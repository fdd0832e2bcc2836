"""Evaluate the R4 invariants (``ElementDefinition.constraint``) with fhirpathpy.

The index (:mod:`conformance.build_invariants`) lists, per walker context key
(a type name or an element path), the constraints that hold there. Each key's
expressions are compiled once per process, the first time an instance of that
type or element is met, and evaluated at every instance, with ``%context`` the
instance, ``%resource`` the resource that holds it (a contained resource or a
Bundle entry is its own ``%resource``) and ``%rootResource`` the outermost
resource holding that one (https://hl7.org/fhir/R4/fhirpath.html#variables).

A constraint is met when its expression yields ``true``; one that yields
``false`` is an issue of the constraint's severity (``error`` rejects a write,
``warning`` is for ``$validate``). An expression that raises, or yields
anything but one boolean, tells nothing about the instance: it is logged at
debug level, counted in :data:`unevaluable`, and the instance passes.
Constraints the index leaves out, and why, are in its ``notEvaluated``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from conformance.issues import ValidationIssue

__all__ = ["Invariant", "invariants_at", "not_evaluated", "unevaluable"]

_LOG = logging.getLogger(__name__)
_DATA_FILE = Path(__file__).resolve().parent / "data" / "r4-invariants.json"
# Profiles of Quantity are keyed by their own name; fhirpathpy's model knows them as Quantity.
_MODEL_TYPES = {"SimpleQuantity": "Quantity", "MoneyQuantity": "Quantity"}

#: Times each constraint key raised or yielded no single boolean in this process.
unevaluable: Counter[str] = Counter()


def _has_value(inputs: list[Any]) -> bool:
    """FHIRPath ``hasValue()``: a single primitive that has a value (not just extensions)."""
    return len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict | list)


# fhirpathpy 2.2 lacks hasValue() (per-1, age-1, bdl-10, cnt-3 use it), and its
# trace() prints to stdout unless given a callback (dom-3 traces).
_OPTIONS: dict[str, Any] = {
    "userInvocationTable": {"hasValue": {"fn": _has_value}},
    "traceFn": lambda label, value: None,
}


@dataclass(frozen=True, slots=True)
class Invariant:
    """One compiled constraint."""

    key: str
    severity: str
    human: str
    expression: str
    evaluate: Callable[..., list[Any]]
    #: A child element without which the constraint holds (the build read it off the expression).
    unless_absent: str | None = None

    def check(self, node: Any, type_path: str, expr: str, resource: Any, root: Any) -> ValidationIssue | None:
        """Evaluate at one instance; return the issue when the constraint is not met."""
        child = self.unless_absent
        if child is not None and type(node) is dict and not _present(node, child):
            return None
        try:
            result = self.evaluate(
                ResourceNode.create_node(node, type_path),
                {"resource": resource, "rootResource": root},
            )
        except Exception:  # noqa: BLE001 - any failure of the engine leaves the instance unjudged
            _LOG.debug("Constraint %s could not be evaluated at %s", self.key, expr, exc_info=True)
            unevaluable[self.key] += 1
            return None
        if result == [True] or result == []:
            # Empty is no verdict: the expression's inputs are absent (ref-1 without a `reference`).
            return None
        if result != [False]:
            _LOG.debug("Constraint %s gave %r at %s, not a boolean", self.key, result, expr)
            unevaluable[self.key] += 1
            return None
        return ValidationIssue(
            "error" if self.severity == "error" else "warning",
            "invariant",
            f"Constraint {self.key} failed: {self.human.rstrip('. ')} (at `{expr}`).",
            expr,
        )


def _present(node: dict[str, Any], child: str) -> bool:
    """Tell whether ``node`` has the element ``child``, as a value, a `_child` sibling or a choice type."""
    if child in node or f"_{child}" in node:
        return True
    size = len(child)
    return any(key[:size] == child and key[size : size + 1].isupper() for key in node)


@cache
def _raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_DATA_FILE.read_text(encoding="utf-8"))
    return data


def not_evaluated() -> dict[str, str]:
    """Return the constraint keys left out of evaluation, each with the reason."""
    return dict(_raw()["notEvaluated"])


def has_invariants() -> frozenset[str]:
    """Return the context keys that have constraints to evaluate."""
    return frozenset(_raw()["constraints"])


@cache
def invariants_at(key: str) -> tuple[Invariant, ...]:
    """Return the compiled constraints of one type or element path (compiled on first use)."""
    model = models["r4"]
    return tuple(
        Invariant(
            c["key"],
            c["severity"],
            c["human"],
            c["expression"],
            fhirpathpy.compile(c["expression"], model, _OPTIONS),
            c.get("unlessAbsent"),
        )
        for c in _raw()["constraints"].get(key, ())
    )


def model_type(key: str) -> str:
    """Return the type path fhirpathpy knows a context key by."""
    return _MODEL_TYPES.get(key, key)
