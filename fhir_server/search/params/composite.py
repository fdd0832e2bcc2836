"""Composite parameters: ``value$value``, every component matching the same index row (search.html#composite).

``code-value-quantity=http://loinc.org|8480-6$gt100`` plans the token part with
:mod:`.token` and the quantity part with :mod:`.quantity`, each against its
component's slot of one ``spidx_composite`` row, so both must hold for one
element: the code and the value of the *same* ``Observation.component``. Reusing
the plain modules' conditions gives components the plain types' forms exactly:
prefixes, ``|system|code`` units, implicit precision, escaping. ``\\$`` is a
literal ``$``. The spec allows no modifiers on composites; ``:missing`` is the
planner's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, cast

from sqlalchemy import ColumnElement, FromClause, Table, and_

from fhir_server.search._composite_shape import ComponentShape, UnsupportedComposite, component_shapes
from fhir_server.search.params import date, number, quantity, reference, string, token, uri
from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.query import split_escaped
from models.search import SpidxComposite

if TYPE_CHECKING:
    from conformance.search_parameters import SearchParam, SearchRegistry

TABLE: Table = SpidxComposite.__table__
MODIFIERS: frozenset[str] = frozenset()
#: The plain parameter modules, by type: each plans one component of its type.
COMPONENT_MODULES: Mapping[str, ModuleType] = {
    "string": string,
    "token": token,
    "date": date,
    "number": number,
    "quantity": quantity,
    "reference": reference,
    "uri": uri,
}

Condition = Callable[[FromClause, str | None, str, PlanContext], ColumnElement[bool]]


def _slot(table: FromClause, columns: Mapping[str, str]) -> FromClause:
    """One component's columns of an aliased ``spidx_composite``, under the plain table's names.

    The plain modules' conditions only read ``table.c.<name>``, so this stand-in
    is all they need (hence the cast).
    """
    renamed = SimpleNamespace(**{plain: table.c[column] for plain, column in columns.items()})
    return cast(FromClause, SimpleNamespace(c=renamed))


#: A sample value per component type, for the message about a malformed composite value.
_SAMPLES = {
    "token": "system|code",
    "quantity": "gt5.4|http://unitsofmeasure.org|mg",
    "date": "ge2020-01-01",
    "number": "10",
    "string": "text",
    "reference": "Patient/1",
    "uri": "http://example.org",
}


def _example(shapes: tuple[ComponentShape, ...]) -> str:
    return "$".join(_SAMPLES[shape.type] for shape in shapes)


def condition_for(param: SearchParam, registry: SearchRegistry, resource_type: str) -> Condition:
    """The ``condition(table, modifier, value, context)`` of composite ``param``, as the other modules have.

    :raises UnsupportedSearch: when the composite's components cannot be searched,
        naming the parameter and the component.
    """
    try:
        shapes = component_shapes(param, registry, resource_type)
    except UnsupportedComposite as exc:
        raise UnsupportedSearch(str(exc)) from exc

    def condition(table: FromClause, modifier: str | None, value: str, context: PlanContext) -> ColumnElement[bool]:
        if modifier is not None:
            raise UnsupportedSearch(f"Modifier `:{modifier}` is not supported on composite parameter `{param.code}`.")
        parts = split_escaped(value, "$")
        if len(parts) != len(shapes) or not all(parts):
            raise UnsupportedSearch(
                f"`{value}` is not a value of composite parameter `{param.code}`: it takes {len(shapes)} "
                f"components separated by `$`, e.g. `{_example(shapes)}` (a literal `$` is written `\\$`)."
            )
        return and_(
            *(
                COMPONENT_MODULES[shape.type].condition(_slot(table, shape.columns), None, part, context)
                for shape, part in zip(shapes, parts, strict=True)
            )
        )

    return condition
