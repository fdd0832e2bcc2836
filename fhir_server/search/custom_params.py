"""Which SearchParameter resources join the search registry, and whether they can (no IO).

A stored SearchParameter is *custom* when its ``status`` is ``active`` or
``draft`` and its ``url`` is not one of the R4 specification's own definitions:
those are built in, so storing a copy of one (as loading an implementation
guide or the spec's definitions bundle does) changes nothing. As in HAPI FHIR,
only ``active`` ones are indexed and searchable; ``draft`` ones are checked
when written, so a mistake shows before the parameter is switched on;
``retired`` and ``unknown`` ones are kept as documents only.

An active custom parameter is extracted on every write of its base types, so
one that cannot be indexed would break those writes. Beyond
:meth:`SearchRegistry.definition_of`, a custom parameter is refused when

* its code starts with ``_`` (the spec's common and result parameters) or holds
  ``.`` (a search URL would read it as a chain);
* its type is ``special`` (``near`` and the like need code of their own);
* its expression has no branch for one of its bases, does not compile, or
  fails on a resource of that type; a composite's component is unknown;
* (active ones) another active custom SearchParameter already defines its url,
  or its code on one of its bases (HAPI FHIR refuses that overlap too).

It may replace an official parameter with the same code and base, as HAPI FHIR
allows; retiring or deleting it brings the official definition back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.search_parameters import SearchRegistry, UnusableSearchParameter, default_registry
from fhir_server.search.extract import extract_index_values

__all__ = [
    "CUSTOM_STATUSES",
    "CustomParameters",
    "build_custom_parameters",
    "conflict",
    "is_custom",
    "usable_definition",
]

#: Statuses of the SearchParameters checked on write; of these only ``active`` is indexed.
CUSTOM_STATUSES = frozenset({"active", "draft"})
_ABSTRACT_BASES = frozenset({"Resource", "DomainResource"})
#: A concrete type to try parameters of the abstract bases on (a DomainResource, hence a Resource).
_SAMPLE_TYPE = "Basic"

#: ``(base, code)`` or ``("url", url)`` to the ``(resource id, url)`` of the active custom SearchParameter defining it.
Owners = Mapping[tuple[str, str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class CustomParameters:
    """A registry with the active custom parameters, and who defines what in it."""

    registry: SearchRegistry
    #: See :data:`Owners`.
    owners: Owners
    #: Why stored active SearchParameters were left out (written before they were checked, or clashing).
    problems: tuple[str, ...] = ()


def is_custom(resource: Mapping[str, Any]) -> bool:
    """Whether ``resource`` is a SearchParameter this server must be able to index (see the module docstring)."""
    if resource.get("resourceType") != "SearchParameter" or resource.get("status") not in CUSTOM_STATUSES:
        return False
    url = resource.get("url")
    return not (isinstance(url, str) and default_registry().has_url(url))


def usable_definition(resource: Mapping[str, Any], registry: SearchRegistry) -> dict[str, Any]:
    """Return the compact definition of a custom SearchParameter, checked against ``registry``.

    :raises UnusableSearchParameter: naming the element and the reason it cannot be indexed.
    """
    spec = registry.definition_of(resource)
    url, code = spec["url"], spec["code"]
    if code.startswith("_") or "." in code:
        raise UnusableSearchParameter(
            f"The SearchParameter `{url}` has code `{code}`: codes beginning with `_` are reserved for the "
            "FHIR specification, and a `.` would be read as a chain.",
            "SearchParameter.code",
        )
    if spec["type"] == "special":
        raise UnusableSearchParameter(
            f"The SearchParameter `{url}` has type `special`, which this server cannot index.", "SearchParameter.type"
        )
    trial = registry.extended([spec])
    for base in spec["base"]:
        concrete = _SAMPLE_TYPE if base in _ABSTRACT_BASES else base
        param = trial.get(concrete, code)
        if param is None or not param.expression:
            raise UnusableSearchParameter(
                f"The `expression` of SearchParameter `{url}` has no branch for its base `{base}`.",
                "SearchParameter.expression",
            )
        for definition, _ in param.components:
            if trial.by_url(definition, concrete) is None:
                raise UnusableSearchParameter(
                    f"The component `{definition}` of SearchParameter `{url}` is not a search parameter of `{base}`.",
                    "SearchParameter.component.definition",
                )
        try:
            extract_index_values({"resourceType": concrete, "id": "check"}, trial)
        except Exception as exc:  # any failure here would fail every write of the type
            raise UnusableSearchParameter(
                f"The SearchParameter `{url}` cannot be indexed on `{base}`: {exc}", "SearchParameter.expression"
            ) from exc
    return spec


def conflict(spec: Mapping[str, Any], resource_id: str | None, owners: Owners) -> str | None:
    """Name the other active custom SearchParameter that already defines ``spec``'s url or code, if any.

    :param resource_id: the id of the SearchParameter being written; its own earlier version is no conflict.
    """
    keys = [("url", spec["url"])] + [(base, spec["code"]) for base in spec["base"]]
    for key in keys:
        owner = owners.get(key)
        if owner is not None and owner[0] != resource_id:
            what = f"url `{spec['url']}`" if key[0] == "url" else f"code `{spec['code']}` on `{key[0]}`"
            return (
                f"The SearchParameter `{spec['url']}` cannot be active: `SearchParameter/{owner[0]}` "
                f"(`{owner[1]}`) already defines the {what}."
            )
    return None


def build_custom_parameters(
    stored: Iterable[tuple[str, Mapping[str, Any]]], official: SearchRegistry
) -> CustomParameters:
    """Extend ``official`` with the active custom SearchParameters of ``stored``.

    :param stored: ``(id, resource)`` of every stored SearchParameter, oldest first:
        where two clash, the older one stays, so every process keeps the same one.
    """
    active = [(rid, res) for rid, res in stored if res.get("status") == "active" and is_custom(res)]
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    problems: list[str] = []
    # Composites last, so their components may be custom parameters too.
    plain = _accept([item for item in active if item[1].get("type") != "composite"], official, owners, problems)
    registry = official.extended(plain) if plain else official
    composites = _accept([item for item in active if item[1].get("type") == "composite"], registry, owners, problems)
    registry = registry.extended(composites) if composites else registry
    return CustomParameters(registry, owners, tuple(problems))


def _accept(
    items: list[tuple[str, Mapping[str, Any]]],
    registry: SearchRegistry,
    owners: dict[tuple[str, str], tuple[str, str]],
    problems: list[str],
) -> list[dict[str, Any]]:
    """The definitions of ``items`` that are usable and clash with no earlier one; ``owners`` records them."""
    specs = []
    for rid, resource in items:
        try:
            spec = usable_definition(resource, registry)
        except UnusableSearchParameter as exc:
            problems.append(f"`SearchParameter/{rid}` is left out of search: {exc}")
            continue
        clash = conflict(spec, rid, owners)
        if clash is not None:
            problems.append(f"`SearchParameter/{rid}` is left out of search: {clash}")
            continue
        specs.append(spec)
        owners[("url", spec["url"])] = (rid, spec["url"])
        owners.update({(base, spec["code"]): (rid, spec["url"]) for base in spec["base"]})
    return specs
