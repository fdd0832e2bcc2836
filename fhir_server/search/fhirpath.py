"""Compile the FHIRPath of search parameter expressions into fast Python callables.

A search expression is compiled once (:func:`compile_fhirpath`, cached) and then
run on every resource written. The compiled form walks the JSON directly:
member steps read fixed property names looked up in the R4 element index, so
lists flatten, choice elements expand (``Observation.value`` reads
``valueQuantity``, ``valueString``...) and every value comes back with its FHIR
type taken from the definitions: ``valueQuantity`` → ``Quantity``,
``Patient.birthDate`` → ``date``, ``Observation.component`` → ``BackboneElement``.
The type is ``None`` only where the model cannot say (inside a contained
resource of unknown type, or on fhirpathpy's fallback path), and the extractor
then infers it from the value's shape.

The subset covers every one of the 1,375 R4 search expressions: paths, ``|``,
``where()`` (equality, ``and``/``or``, ``resolve() is Type``), ``as``/``is``/
``ofType()``, ``exists()``/``empty()``/``first()``/``last()``/``not()``/``count()``,
``extension('url')``, ``[n]``, ``=``/``!=`` and ``%resource``. Anything else (custom
SearchParameters may use more) is evaluated by fhirpathpy, the reference
implementation, and the expression is recorded in :data:`FALLBACK_EXPRESSIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from fhir_server.search._fhirpath_compile import Item, Unsupported, compile_node
from fhir_server.search._fhirpath_model import fhir_type
from fhir_server.search._fhirpath_parser import FhirPathSyntaxError, parse
from fhir_server.search._fhirpath_references import reference_type

__all__ = ["FALLBACK_EXPRESSIONS", "FhirPath", "FhirPathSyntaxError", "compile_fhirpath", "fhirpathpy_options"]

#: Expressions compiled to fhirpathpy calls because the compiler does not handle them.
FALLBACK_EXPRESSIONS: set[str] = set()


class FhirPath:
    """One compiled expression.

    Calling it on a resource returns ``(value, FHIR type or None)`` pairs, values
    as they are in the JSON (dicts for complex types, str/int/float/bool for primitives).

    :param expression: the FHIRPath text.
    """

    __slots__ = ("_compiled", "expression", "fallback")

    def __init__(self, expression: str) -> None:
        #: The FHIRPath text.
        self.expression = expression
        try:
            self._compiled = compile_node(parse(expression))
            #: Whether fhirpathpy evaluates this expression.
            self.fallback = False
        except (Unsupported, FhirPathSyntaxError):
            self._compiled = _fhirpathpy_callable(expression)
            self.fallback = True
            FALLBACK_EXPRESSIONS.add(expression)

    def __call__(self, resource: dict[str, Any]) -> list[tuple[Any, str | None]]:
        """Evaluate on a resource; values with their FHIR type names."""
        return [(value, fhir_type(key)) for value, key in self.nodes(resource)]

    def nodes(self, resource: dict[str, Any]) -> list[Item]:
        """Evaluate on a resource, keeping each value's model key (backbone paths included).

        Keys are what :meth:`evaluate` needs to go on navigating from these values,
        e.g. to evaluate a composite parameter's components.
        """
        root: Item = (resource, resource.get("resourceType"))
        return self._compiled([root], root)

    def evaluate(self, focus: Sequence[Item], resource: dict[str, Any]) -> list[Item]:
        """Evaluate relative to ``focus`` items (from :meth:`nodes`), ``%resource`` being ``resource``."""
        return self._compiled(list(focus), (resource, resource.get("resourceType")))


@lru_cache(maxsize=4096)
def compile_fhirpath(expression: str) -> FhirPath:
    """Return the compiled form of ``expression``, compiling it on first use.

    :raises FhirPathSyntaxError: when neither the compiler nor fhirpathpy can read it.
    """
    return FhirPath(expression)


def _resolve_stub(inputs: list[Any]) -> list[Any]:
    """fhirpathpy's ``resolve()``: a stub of the referenced type, as the compiler does."""
    from fhirpathpy.engine.nodes import ResourceNode

    out = []
    for value in inputs:
        text = value.get("reference") if isinstance(value, dict) else value
        target = reference_type(text) if isinstance(text, str) else None
        if target is not None:
            # The node's path is its type name, which is what `is Patient` checks.
            out.append(ResourceNode.create_node({"resourceType": target}, target))
    return out


def fhirpathpy_options() -> dict[str, Any]:
    """Return the fhirpathpy model and options that match the compiler's semantics (tests use them too)."""
    from fhirpathpy.models import models

    return {
        "model": models["r4"],
        "options": {"userInvocationTable": {"resolve": {"fn": _resolve_stub, "arity": {0: []}}}},
    }


def _fhirpathpy_callable(expression: str) -> Any:
    """Wrap fhirpathpy, imported only when an expression needs it, as a compiled closure."""
    try:
        from fhirpathpy import compile as fp_compile
    except ImportError as exc:  # pragma: no cover - fhirpathpy is a dependency
        raise FhirPathSyntaxError(f"The FHIRPath `{expression}` needs fhirpathpy, which is not installed.") from exc
    settings = fhirpathpy_options()
    try:
        evaluate = fp_compile(expression, model=settings["model"], options=settings["options"])
        # Some malformed expressions only fail when run: run it once on nothing to find out now.
        evaluate({"resourceType": "Basic"}, {"resource": {"resourceType": "Basic"}})
    except Exception as exc:  # fhirpathpy raises bare exceptions from its ANTLR parser
        raise FhirPathSyntaxError(f"The FHIRPath `{expression}` could not be parsed: {exc}") from exc

    def step(focus: list[Item], root: Item) -> list[Item]:
        out: list[Item] = []
        for value, _ in focus:
            out.extend((result, None) for result in evaluate(value, {"resource": root[0]}))
        return out

    return step
