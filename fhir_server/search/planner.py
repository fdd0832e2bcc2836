"""Turns parsed criteria into SQL conditions on the resource table (no IO).

Every criterion becomes ``resource.pk IN (SELECT resource_pk FROM spidx_<type> WHERE
resource_type = :T AND param = :code AND (value OR value ...))``, so each is one
index range scan and criteria AND together. Chains join ``spidx_reference`` to the
target's resource row; ``_has`` runs the same construction from the other side.
The one exception to "no IO": given a ``resolve`` callback, a chain first looks up
its (few) targets, see :meth:`Planner._resolved_targets`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Row, Select, and_, false, not_, or_, select

from conformance.search_parameters import SearchParam, SearchRegistry
from fhir_server.search.params import composite, date, token
from fhir_server.search.params._context import PlanContext, UnsupportedSearch
from fhir_server.search.query import Criterion, unescape
from models.resource import ResourceRow
from models.search import SpidxReference, SpidxToken

#: The module that plans each parameter type (``special`` has none).
PARAM_MODULES: dict[str, ModuleType] = {**composite.COMPONENT_MODULES, "composite": composite}
_resource = ResourceRow.__table__
#: Chains with more targets than this join them instead of listing their ids.
MAX_RESOLVED_TARGETS = 5000


class UnknownParameter(UnsupportedSearch):
    """A parameter name the registry does not define for the resource type."""

    code = "not-found"


@dataclass
class Planner:
    """Builds conditions for one search; collects what it had to ignore."""

    registry: SearchRegistry
    context: PlanContext
    #: Criteria ignored as unknown or unsupported, with the reason (for the OperationOutcome).
    ignored: list[tuple[str, str]] = field(default_factory=list)
    #: Runs a query in the search's session; lets chains resolve their targets up front.
    resolve: Callable[[Select[*tuple[Any, ...]]], Sequence[Row[*tuple[Any, ...]]]] | None = None

    def where(
        self, res: FromClause, resource_type: str, criteria: list[Criterion], *, strict: bool
    ) -> ColumnElement[bool]:
        """All criteria AND'ed as a condition on the resource alias ``res``.

        :raises UnsupportedSearch: for an unknown or unsupported criterion when ``strict``.
        """
        clauses = [res.c.resource_type == resource_type, res.c.deleted == false()]
        for criterion in criteria:
            try:
                clauses.append(self.clause(res, resource_type, criterion))
            except UnsupportedSearch as exc:
                if strict:
                    raise
                self.ignored.append((criterion.raw_name, exc.diagnostics))
        return and_(*clauses)

    def clause(self, res: FromClause, resource_type: str, criterion: Criterion) -> ColumnElement[bool]:
        """The condition one criterion puts on resources of ``resource_type`` (alias ``res``)."""
        if criterion.has:
            return self._has(res, resource_type, criterion)
        if criterion.chain:
            return self._chain(res, resource_type, criterion)
        values = criterion.values
        if criterion.code == "_id":
            return res.c.fhir_id.in_([unescape(v) for v in values])
        if criterion.code == "_lastUpdated":
            return or_(*(self._last_updated(res, v) for v in values))
        param = self.param(resource_type, criterion.code)
        if criterion.modifier == "missing":
            return self._missing(res, resource_type, param, values)
        if param.type == "reference" and criterion.modifier == "identifier":
            table = SpidxToken.__table__.alias()
            conditions = [token.condition(table, None, v, self.context) for v in values]
            return res.c.pk.in_(self._pks(table, resource_type, f"{param.code}.identifier", conditions))
        module = self._module(param)
        table = module.TABLE.alias()
        if module is composite:  # its condition depends on the parameter's components
            condition = composite.condition_for(param, self.registry, resource_type)
        else:
            condition = module.condition
        conditions = [condition(table, criterion.modifier, v, self.context) for v in values]
        matching = self._pks(table, resource_type, param.code, conditions)
        if param.type == "token" and criterion.modifier == "not":
            return res.c.pk.not_in(matching)
        return res.c.pk.in_(matching)

    def param(self, resource_type: str, code: str) -> SearchParam:
        """The registry's definition of ``code`` on ``resource_type``.

        :raises UnknownParameter: if there is none.
        """
        param = self.registry.get(resource_type, code)
        if param is None:
            raise UnknownParameter(f"`{code}` is not a search parameter of `{resource_type}`.")
        return param

    def _module(self, param: SearchParam) -> ModuleType:
        module = PARAM_MODULES.get(param.type)
        if module is None:
            raise UnsupportedSearch(
                f"Search parameter `{param.code}` has type `{param.type}`, which is not supported yet."
            )
        return module

    @staticmethod
    def _pks(table: FromClause, resource_type: str, code: str, conditions: list[ColumnElement[bool]]) -> Any:
        return select(table.c.resource_pk).where(
            table.c.resource_type == resource_type, table.c.param == code, or_(*conditions)
        )

    def _missing(
        self, res: FromClause, resource_type: str, param: SearchParam, values: tuple[str, ...]
    ) -> ColumnElement[bool]:
        if values not in (("true",), ("false",)):
            raise UnsupportedSearch(f"`{param.code}:missing` takes `true` or `false`.")
        if param.type == "composite":
            composite.condition_for(param, self.registry, resource_type)  # an unsupported shape has no rows to test
        table = self._module(param).TABLE.alias()
        present = res.c.pk.in_(
            select(table.c.resource_pk).where(table.c.resource_type == resource_type, table.c.param == param.code)
        )
        return not_(present) if values == ("true",) else present

    def _last_updated(self, res: FromClause, value: str) -> ColumnElement[bool]:
        prefix, low, high = date.parse(value)
        column = res.c.last_updated
        return date.range_condition(column, column, prefix, low, high, self.context)

    def _chain(self, res: FromClause, resource_type: str, criterion: Criterion) -> ColumnElement[bool]:
        link, rest = criterion.chain[0], replace(criterion, chain=criterion.chain[1:])
        param = self.param(resource_type, link.param)
        if param.type != "reference":
            raise UnsupportedSearch(
                f"`{link.param}` is not a reference parameter of `{resource_type}`, so it cannot be chained."
            )
        targets = [link.target_type] if link.target_type else [t for t in param.target if self._defines(t, rest)]
        if not targets:
            raise UnknownParameter(
                f"No target type of `{resource_type}.{link.param}` has search parameter `{rest.code}`."
            )
        ref = SpidxReference.__table__.alias()
        target = _resource.alias()
        conditions = {t: self.where(target, t, [rest], strict=True) for t in targets}
        resolved = self._resolved_targets(target, conditions)
        if resolved is not None:
            if not resolved:
                return false()
            by_id = [and_(ref.c.target_type == t, ref.c.target_id.in_(ids)) for t, ids in resolved.items()]
            query = select(ref.c.resource_pk).where(
                ref.c.resource_type == resource_type, ref.c.param == param.code, or_(*by_id)
            )
            return res.c.pk.in_(query)
        per_type = [and_(ref.c.target_type == t, condition) for t, condition in conditions.items()]
        joined = ref.join(
            target, and_(target.c.resource_type == ref.c.target_type, target.c.fhir_id == ref.c.target_id)
        )
        query = (
            select(ref.c.resource_pk)
            .select_from(joined)
            .where(ref.c.resource_type == resource_type, ref.c.param == param.code, or_(*per_type))
        )
        return res.c.pk.in_(query)

    def _resolved_targets(
        self, target: FromClause, conditions: dict[str, ColumnElement[bool]]
    ) -> dict[str, list[str]] | None:
        """The ids of the chain's targets, by type, when there are at most :data:`MAX_RESOLVED_TARGETS`.

        PostgreSQL cannot see that rows of ``spidx_string`` for Patients point at
        Patient resources, so it estimates a joined target set (``name=smith``: 2,500
        patients, 117,000 references) at a few rows and probes every reference one by
        one. Literal ids are estimated from the column statistics instead, and give
        the join order that fits. Deleted targets are not returned, so they still do
        not match. ``None`` (no callback, or too many targets) keeps the joined form.
        """
        if self.resolve is None:
            return None
        query = select(target.c.resource_type, target.c.fhir_id).where(or_(*conditions.values()))
        rows = self.resolve(query.limit(MAX_RESOLVED_TARGETS + 1))
        if len(rows) > MAX_RESOLVED_TARGETS:
            return None
        ids: dict[str, list[str]] = {}
        for resource_type, fhir_id in rows:
            ids.setdefault(resource_type, []).append(fhir_id)
        return ids

    def _defines(self, resource_type: str, criterion: Criterion) -> bool:
        head = criterion.chain[0].param if criterion.chain else criterion.code
        return head in ("_id", "_lastUpdated") or self.registry.get(resource_type, head) is not None

    def _has(self, res: FromClause, resource_type: str, criterion: Criterion) -> ColumnElement[bool]:
        link, rest = criterion.has[0], replace(criterion, has=criterion.has[1:])
        param = self.param(link.source_type, link.param)
        if param.type != "reference":
            raise UnsupportedSearch(f"`{link.param}` is not a reference parameter of `{link.source_type}`.")
        ref = SpidxReference.__table__.alias()
        source = _resource.alias()
        query = (
            select(ref.c.target_id)
            .select_from(ref.join(source, source.c.pk == ref.c.resource_pk))
            .where(
                ref.c.resource_type == link.source_type,
                ref.c.param == param.code,
                ref.c.target_type == resource_type,
                self.where(source, link.source_type, [rest], strict=True),
            )
        )
        return res.c.fhir_id.in_(query)
