"""Parsing FHIR search URLs into a :class:`SearchQuery` (http://hl7.org/fhir/R4/search.html).

Pure: no database, no Flask. Resolving names against the registry and building
SQL is the planner's job (:mod:`fhir_server.search.planner`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from fhir_server.errors import BadRequest

#: Result parameters (http://hl7.org/fhir/R4/search.html#return) handled outside the criteria.
RESULT_PARAMETERS = frozenset(
    {
        "_sort",
        "_count",
        "_include",
        "_revinclude",
        "_summary",
        "_total",
        "_elements",
        "_format",
        "_pretty",
        "_cursor",
        "_type",
    }
)
_HAS = re.compile(r"_has:([A-Za-z]+):([A-Za-z0-9_\-]+):(.+)")


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One hop of a chain: follow reference parameter ``param`` to resources of ``target_type``."""

    param: str
    target_type: str | None


@dataclass(frozen=True, slots=True)
class HasLink:
    """One hop of a reverse chain: resources of ``source_type`` whose ``param`` points here."""

    source_type: str
    param: str


@dataclass(frozen=True, slots=True)
class Criterion:
    """One search parameter occurrence: its values are OR'd; criteria are AND'd."""

    #: The parameter code at the end of any chain, e.g. ``name`` in ``subject:Patient.name``.
    code: str
    modifier: str | None
    #: Raw values, already split on unescaped commas (still escaped otherwise).
    values: tuple[str, ...]
    chain: tuple[ChainLink, ...] = ()
    has: tuple[HasLink, ...] = ()
    #: The parameter name as the client wrote it, for messages.
    raw_name: str = ""


@dataclass(frozen=True, slots=True)
class IncludeSpec:
    """An ``_include``/``_revinclude`` request: ``source_type:param[:target_type]``."""

    source_type: str
    param: str
    target_type: str | None
    iterate: bool
    reverse: bool


@dataclass(frozen=True, slots=True)
class SortKey:
    code: str
    descending: bool


@dataclass
class SearchQuery:
    """Everything a search request asks for."""

    criteria: list[Criterion] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    includes: list[IncludeSpec] = field(default_factory=list)
    count: int | None = None
    cursor: str | None = None
    total: str | None = None
    summary: str | None = None
    elements: list[str] | None = None
    #: For system-level search: the types named by ``_type``.
    types: list[str] = field(default_factory=list)


def split_escaped(value: str, separator: str) -> list[str]:
    """Split on ``separator`` where it is not escaped with a backslash (escapes are kept)."""
    parts, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def unescape(value: str) -> str:
    """Remove search escapes: ``\\,`` ``\\|`` ``\\$`` ``\\\\`` (http://hl7.org/fhir/R4/search.html#escaping)."""
    return re.sub(r"\\([,|$\\])", r"\1", value)


def _criterion(name: str, value: str) -> Criterion:
    has: list[HasLink] = []
    rest = name
    while rest.startswith("_has:"):
        match = _HAS.fullmatch(rest)
        if not match:
            raise BadRequest(f"`{name}` is not a valid `_has` parameter; use `_has:Type:reference-param:param`.")
        has.append(HasLink(match.group(1), match.group(2)))
        rest = match.group(3)
    links = rest.split(".")
    chain = []
    for link in links[:-1]:
        param, _, target = link.partition(":")
        chain.append(ChainLink(param, target or None))
    code, _, modifier = links[-1].partition(":")
    values = tuple(split_escaped(value, ","))
    return Criterion(code, modifier or None, values, tuple(chain), tuple(has), name)


def _include(value: str, *, reverse: bool, iterate: bool) -> IncludeSpec:
    parts = value.split(":")
    if parts == ["*"]:
        return IncludeSpec("*", "*", None, iterate, reverse)
    if len(parts) not in (2, 3):
        kind = "_revinclude" if reverse else "_include"
        raise BadRequest(f"`{kind}={value}` must look like `SourceType:param` or `SourceType:param:TargetType`.")
    return IncludeSpec(parts[0], parts[1], parts[2] if len(parts) == 3 else None, iterate, reverse)


def parse_query(pairs: Iterable[tuple[str, str]]) -> SearchQuery:
    """Parse URL (or form) parameters, in order, into a :class:`SearchQuery`.

    :raises BadRequest: for malformed result parameters such as ``_count=abc``.
    """
    query = SearchQuery()
    for name, value in pairs:
        base, _, modifier = name.partition(":")
        if base in ("_include", "_revinclude"):
            query.includes.append(
                _include(value, reverse=base == "_revinclude", iterate=modifier in ("iterate", "recurse"))
            )
        elif name == "_sort":
            for key in filter(None, value.split(",")):
                query.sort.append(SortKey(key.lstrip("-"), key.startswith("-")))
        elif name == "_count":
            if not value.isdigit():
                raise BadRequest(f"`_count={value}` is not a non-negative integer.")
            query.count = int(value)
        elif name == "_cursor":
            query.cursor = value
        elif name == "_total":
            if value not in ("none", "estimate", "accurate"):
                raise BadRequest(f"`_total={value}` is not supported; use none, estimate or accurate.")
            query.total = value
        elif name == "_summary":
            query.summary = value
        elif name == "_elements":
            query.elements = [e.strip().split(".")[-1] for e in value.split(",") if e.strip()]
        elif name == "_type":
            query.types += [t for t in value.split(",") if t]
        elif base in RESULT_PARAMETERS:
            continue  # _format and _pretty are handled by the HTTP layer
        elif value != "":
            query.criteria.append(_criterion(name, value))
    return query
