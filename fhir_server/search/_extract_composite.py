"""Composite parameter values at write time: one per combination of component values (R4 search.html#composite).

A composite's ``expression`` selects elements (the Observation itself, each
``Observation.component``...). Each component's expression is evaluated on one
such element and its values converted exactly as the component's plain
parameter converts them (the same converters, so text folding, date ranges and
units agree). Only values from the same element are combined: that is what
makes ``component-code-value-quantity`` correlate code and value.

Plans are compiled once per registry and resource type, with the rest of
extraction's plan (:func:`fhir_server.search.extract.extract_index_values`), and
a component several composites share (``code``) is evaluated once per element.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import product
from typing import TYPE_CHECKING, Any

from fhir_server.search._composite_shape import ComponentShape, UnsupportedComposite, component_shapes
from fhir_server.search._extract_element import element_values
from fhir_server.search._fhirpath_model import fhir_type
from fhir_server.search.fhirpath import compile_fhirpath
from fhir_server.search.index_values import (
    CompositeValue,
    DateValue,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
)
from fhir_server.search.ranges import MAX_INSTANT, MIN_INSTANT

if TYPE_CHECKING:
    from conformance.search_parameters import SearchParam, SearchRegistry
    from fhir_server.search._fhirpath_compile import Item
    from fhir_server.search.fhirpath import FhirPath

__all__ = ["CompositePlan", "composite_plan"]

#: The value class a component of each type contributes; others its converter yields
#: (a Reference's ``:identifier`` tokens) belong to other parameters.
_VALUE_CLASS: dict[str, type] = {
    "token": TokenValue,
    "number": NumberValue,
    "quantity": QuantityValue,
    "date": DateValue,
    "string": StringValue,
    "reference": ReferenceValue,
    "uri": UriValue,
}


@dataclass(frozen=True, slots=True, eq=False)
class _Component:
    """A compiled component; equal components of a type's composites are one object (see :func:`composite_plan`)."""

    path: FhirPath
    param_type: str
    value_class: type
    #: (attribute of the plain value, spidx_composite column)
    columns: tuple[tuple[str, str], ...]
    #: Date components' (column, sentinel) pairs: open ends become the instants the range conditions compare.
    open_ends: tuple[tuple[str, datetime], ...]
    #: Columns of which a value must set one (a token's system and code: a CodeableConcept's
    #: text-only token matches no component value); empty when any value will do.
    required: tuple[str, ...]

    def rows(self, focus: Item, resource: dict[str, Any]) -> list[dict[str, Any]]:
        """The slot columns of each value this component has on one element."""
        rows = []
        for value, key in self.path.evaluate((focus,), resource):
            for item in element_values("", self.param_type, value, fhir_type(key)):
                if type(item) is not self.value_class:
                    continue
                row = {column: getattr(item, attribute) for attribute, column in self.columns}
                for column, sentinel in self.open_ends:
                    if row[column] is None:
                        row[column] = sentinel
                if not self.required or any(row[column] is not None for column in self.required):
                    rows.append(row)
        return rows


@dataclass(frozen=True, slots=True)
class _Composite:
    """One composite parameter, compiled."""

    code: str
    components: tuple[_Component, ...]
    #: Component positions in evaluation order: tokens last, since the value component
    #: (``value.as(Quantity)``...) is usually absent and then the code need not be converted.
    order: tuple[int, ...]

    def combine(
        self, focus: Item, resource: dict[str, Any], rows_of: dict[_Component, Any], out: list[CompositeValue]
    ) -> None:
        """Append every combination of this composite's component values on one element.

        :param rows_of: the rows of the components already evaluated on this element.
        """
        parts: list[Any] = [None] * len(self.components)
        for position in self.order:
            component = self.components[position]
            rows = rows_of.get(component)
            if rows is None:
                rows = rows_of[component] = component.rows(focus, resource)
            if not rows:
                return  # a component without a value: no combination from this element
            parts[position] = rows
        if len(parts) == 2:  # the usual shape: code and value
            for first in parts[0]:
                for second in parts[1]:
                    out.append(CompositeValue(self.code, **first, **second))
            return
        for combination in product(*parts):
            fields: dict[str, Any] = {}
            for row in combination:
                fields.update(row)
            out.append(CompositeValue(self.code, **fields))


@dataclass(frozen=True, slots=True)
class CompositePlan:
    """The composites of one resource type, grouped by the expression that selects their elements."""

    groups: tuple[tuple[FhirPath, tuple[_Composite, ...]], ...]

    def values(self, resource: dict[str, Any]) -> list[CompositeValue]:
        """Every combination of component values within each selected element, each once.

        An element several composites select (the Observation itself for ``code-value-*``
        and ``combo-*``) has each shared component (``code``) evaluated once.
        """
        by_element: dict[int, tuple[Item, list[_Composite]]] = {}
        for focus, composites in self.groups:
            for item in focus.nodes(resource):
                entry = by_element.get(id(item[0]))
                if entry is None:
                    by_element[id(item[0])] = (item, list(composites))
                else:
                    entry[1].extend(composites)
        out: list[CompositeValue] = []
        for item, selecting in by_element.values():
            rows_of: dict[_Component, Any] = {}
            for composite in selecting:
                composite.combine(item, resource, rows_of, out)
        return list(dict.fromkeys(out))


def _component(shape: ComponentShape) -> _Component:
    columns = shape.columns
    open_ends = ((columns["low"], MIN_INSTANT), (columns["high"], MAX_INSTANT)) if shape.type == "date" else ()
    required = (columns["system"], columns["code"]) if shape.type == "token" else ()
    return _Component(
        compile_fhirpath(shape.expression),
        shape.type,
        _VALUE_CLASS[shape.type],
        tuple(columns.items()),
        open_ends,
        required,
    )


def composite_plan(
    registry: SearchRegistry, resource_type: str, params: Mapping[str, SearchParam]
) -> CompositePlan | None:
    """Compile the composites among ``params`` (the parameters of ``resource_type``); ``None`` when there are none.

    Composites this server cannot index (:class:`UnsupportedComposite`) are left
    out; the planner reports them as unsupported when searched. Equal components
    (``code`` of ``code-value-quantity`` and ``combo-code-value-quantity``) become
    one object, so :meth:`CompositePlan.values` evaluates them once per element.
    """
    groups: dict[str, list[_Composite]] = {}
    shared: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Component] = {}
    for param in params.values():
        if param.type != "composite" or not param.expression:
            continue
        try:
            shapes = component_shapes(param, registry, resource_type)
        except UnsupportedComposite:
            continue
        components = []
        for shape in shapes:
            key = (shape.type, shape.expression, tuple(shape.columns.items()))
            if key not in shared:
                shared[key] = _component(shape)
            components.append(shared[key])
        tokens = tuple(position for position, shape in enumerate(shapes) if shape.type == "token")
        order = tuple(position for position in range(len(shapes)) if position not in tokens) + tokens
        composite = _Composite(param.code, tuple(components), order)
        groups.setdefault(param.expression, []).append(composite)
    if not groups:
        return None
    return CompositePlan(tuple((compile_fhirpath(expression), tuple(group)) for expression, group in groups.items()))
