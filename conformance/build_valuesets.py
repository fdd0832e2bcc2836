"""Generate the R4 terminology binding index from the official FHIR R4 (4.0.1) package.

:func:`conformance.build_definitions.main` runs this after the element index, so
one command regenerates both::

    python -m conformance.build_definitions /work/shared/fhir-r4

It reads every ``required``, ``extensible`` and ``preferred`` binding in the
snapshots of the base resources and datatypes, expands each bound ValueSet
from the package's ValueSets and CodeSystems, and writes
``conformance/data/r4-valuesets.json``::

    {
      "fhirVersion": "4.0.1",
      "bindings": {
        "Patient.gender": ["required", "http://hl7.org/fhir/ValueSet/administrative-gender"],
        "CapabilityStatement.format": ["required", "http://hl7.org/fhir/ValueSet/mimetypes", ["json", "ttl", "xml"]],
        ...
      },
      "valueSets": {
        "http://hl7.org/fhir/ValueSet/administrative-gender": {
          "http://hl7.org/fhir/administrative-gender": ["female", "male", "other", "unknown"]
        },
        "http://hl7.org/fhir/ValueSet/mimetypes": {"urn:ietf:bcp:13": null},
        ...
      },
      "unexpanded": {"http://loinc.org/vs/LL379-9": "the ValueSet is not in the R4 package"}
    }

A system mapped to a code list is closed: exactly those codes are members. A
system mapped to ``null`` is open: its codes are defined outside the package
(LOINC, SNOMED CT, UCUM, BCP-47 languages, BCP-13 mime types, ISO 3166/4217,
or a CodeSystem the package ships with ``content`` other than ``complete``), so
run-time validation checks the form of such codes, not their membership. A
ValueSet listed under ``unexpanded`` could not be expanded at all (the reason
says why) and its bindings are not checked.

The data is derived from HL7 FHIR R4 4.0.1, which HL7 publishes under CC0; see
``conformance/data/LICENSE-FHIR.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conformance.build_definitions import DATA_DIR, _wanted

__all__ = ["OUTPUT_NAME", "STRENGTHS", "Unexpandable", "build", "write"]

#: The generated file's name, under :data:`conformance.build_definitions.DATA_DIR`.
OUTPUT_NAME = "r4-valuesets.json"
#: Binding strengths validation acts on; ``example`` bindings say nothing about conformance.
STRENGTHS = ("required", "extensible", "preferred")

# An element comment that admits codes beside the value set's, as CapabilityStatement.format's
# does: `"xml", "json" and "ttl" are allowed, which describe the simple encodings ...`.
_ALSO_ALLOWED = re.compile(r'^((?:"[^"]+"(?:, | and ))*"[^"]+") are allowed\b')

#: An expansion: system -> its member codes, or ``None`` when the system is open (form-only).
Expansion = dict[str, "set[str] | None"]


class Unexpandable(Exception):
    """A ValueSet whose members cannot be computed from the package; the message says why."""


class _CodeSystem:
    """The codes of one complete CodeSystem and its subsumption hierarchy."""

    def __init__(self, resource: dict[str, Any]) -> None:
        self.url: str = resource["url"]
        self.codes: list[str] = []
        self.children: dict[str, set[str]] = {}
        self.properties: dict[str, dict[str, set[str]]] = {}  # property -> value -> codes
        self._add(resource.get("concept", ()), None)

    def _add(self, concepts: Iterable[dict[str, Any]], parent: str | None) -> None:
        for concept in concepts:
            code: str = concept["code"]
            self.codes.append(code)
            if parent is not None:
                self.children.setdefault(parent, set()).add(code)
            for prop in concept.get("property", ()):
                value = next((str(v) for k, v in prop.items() if k.startswith("value")), None)
                if value is None:
                    continue
                # v3 code systems give a concept with several parents a `child` property
                # on each extra parent, besides nesting it under one of them.
                if prop["code"] == "child":
                    self.children.setdefault(code, set()).add(value)
                elif prop["code"] == "parent":
                    self.children.setdefault(value, set()).add(code)
                self.properties.setdefault(prop["code"], {}).setdefault(value, set()).add(code)
            self._add(concept.get("concept", ()), code)

    def descendants(self, code: str) -> set[str]:
        """Every code below ``code`` in the hierarchy, not ``code`` itself."""
        found: set[str] = set()
        stack = [code]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def filtered(self, filters: list[dict[str, Any]]) -> set[str]:
        """The codes meeting every filter of one ``compose.include`` (they are ANDed)."""
        result = set(self.codes)
        for flt in filters:
            prop, op, value = flt["property"], flt["op"], flt["value"]
            if prop == "concept" and op == "is-a":
                matched = {value} | self.descendants(value)
            elif prop == "concept" and op == "descendent-of":
                matched = self.descendants(value)
            elif prop == "concept" and op == "is-not-a":
                matched = set(self.codes) - {value} - self.descendants(value)
            elif op == "=":
                matched = self.properties.get(prop, {}).get(value, set())
            elif op == "in":
                matched = {code for v in value.split(",") for code in self.properties.get(prop, {}).get(v.strip(), ())}
            else:
                raise Unexpandable(f"filter `{prop} {op} {value}` on {self.url} is not supported")
            result &= matched
        return result


class _Expander:
    def __init__(self, package: Path) -> None:
        self.value_sets: dict[str, dict[str, Any]] = {}
        for file in sorted(package.glob("ValueSet-*.json")):
            vs = json.loads(file.read_text(encoding="utf-8"))
            self.value_sets[vs["url"]] = vs
        # Only complete CodeSystems define membership. The package also holds SNOMED CT as
        # `not-present` and a few `example` or `fragment` ones, whose unlisted codes may be
        # valid: those are open, like the systems the package does not define at all.
        self.code_systems: dict[str, _CodeSystem] = {}
        for file in sorted(package.glob("CodeSystem-*.json")):
            cs = json.loads(file.read_text(encoding="utf-8"))
            if cs.get("content") == "complete":
                self.code_systems[cs["url"]] = _CodeSystem(cs)
        self._done: dict[str, Expansion] = {}
        self._active: set[str] = set()

    def expand(self, url: str) -> Expansion:
        """Return the members of ValueSet ``url``; raise :class:`Unexpandable` when they cannot be known."""
        if url in self._done:
            return self._done[url]
        vs = self.value_sets.get(url)
        if vs is None:
            raise Unexpandable("the ValueSet is not in the R4 package")
        if url in self._active:
            raise Unexpandable("the ValueSet imports itself")
        compose = vs.get("compose")
        if compose is None:
            raise Unexpandable("the ValueSet has no compose")
        self._active.add(url)
        try:
            result: Expansion = {}
            for include in compose.get("include", ()):
                for system, codes in self._part(include).items():
                    _merge(result, system, codes)
            for exclude in compose.get("exclude", ()):
                for system, codes in self._part(exclude).items():
                    # Excluding from an open system cannot be done without knowing it; it stays open.
                    if codes is not None and result.get(system) is not None:
                        result[system] = result[system] - codes  # type: ignore[operator]
        finally:
            self._active.discard(url)
        self._done[url] = result
        return result

    def _part(self, part: dict[str, Any]) -> Expansion:
        """Expand one ``compose.include`` or ``compose.exclude``."""
        imported: Expansion | None = None
        for canonical in part.get("valueSet", ()):
            # Several value sets in one include are intersected (R4 valueset.html#compositions).
            other = self.expand(canonical.split("|", 1)[0])
            imported = other if imported is None else _intersect(imported, other)
        system = part.get("system")
        if system is None:
            return imported or {}
        own = self._system_codes(system, part)
        if imported is None:
            return {system: own}
        return _intersect({system: own}, imported)

    def _system_codes(self, system: str, part: dict[str, Any]) -> set[str] | None:
        listed = {concept["code"] for concept in part.get("concept", ())}
        filters = part.get("filter", ())
        if listed and filters:
            raise Unexpandable(f"an include of {system} has both concepts and filters")
        if listed:
            return listed  # an enumeration is closed even when the system is external
        cs = self.code_systems.get(system)
        if cs is None:
            return None  # external or partial system: checked for form only
        return cs.filtered(list(filters)) if filters else set(cs.codes)


def _merge(into: Expansion, system: str, codes: set[str] | None) -> None:
    if system in into:
        current = into[system]
        into[system] = None if current is None or codes is None else current | codes
    else:
        into[system] = None if codes is None else set(codes)


def _intersect(left: Expansion, right: Expansion) -> Expansion:
    out: Expansion = {}
    for system in left.keys() & right.keys():
        a, b = left[system], right[system]
        out[system] = b if a is None else a if b is None else a & b
    return out


def _bindings(package: Path) -> dict[str, list[Any]]:
    """Element path -> ``[strength, ValueSet url]`` for each binding validation acts on.

    A third item lists codes the element's definition allows besides the value
    set's: R4 lets CapabilityStatement.format and Signature.targetFormat, bound to
    mime types, also say ``xml``, ``json`` or ``ttl``, and says so in their comment.
    """
    out: dict[str, list[Any]] = {}
    for file in sorted(package.glob("StructureDefinition-*.json")):
        sd = json.loads(file.read_text(encoding="utf-8"))
        if not _wanted(sd):
            continue
        for element in sd["snapshot"]["element"]:
            binding = element.get("binding")
            if not binding or binding["strength"] not in STRENGTHS or "valueSet" not in binding:
                continue
            # The canonicals carry `|4.0.1`; there is only one version here.
            entry: list[Any] = [binding["strength"], binding["valueSet"].split("|", 1)[0]]
            also = _ALSO_ALLOWED.match(element.get("comment", ""))
            if also:
                entry.append(sorted(re.findall(r'"([^"]+)"', also.group(1))))
            out[element["path"]] = entry
    return dict(sorted(out.items()))


def build(package: Path) -> dict[str, Any]:
    """Read the core package and return the binding index as plain JSON data.

    :param package: the ``package`` folder of ``hl7.fhir.r4.core`` 4.0.1.
    """
    bindings = _bindings(package)
    expander = _Expander(package)
    value_sets: dict[str, dict[str, list[str] | None]] = {}
    unexpanded: dict[str, str] = {}
    for url in sorted({entry[1] for entry in bindings.values()}):
        try:
            expansion = expander.expand(url)
        except Unexpandable as exc:
            unexpanded[url] = str(exc)
            continue
        value_sets[url] = {
            system: None if codes is None else sorted(codes) for system, codes in sorted(expansion.items())
        }
    return {
        "fhirVersion": "4.0.1",
        "source": "hl7.fhir.r4.core 4.0.1 StructureDefinition, ValueSet and CodeSystem resources (CC0-1.0)",
        "bindings": bindings,
        "valueSets": value_sets,
        "unexpanded": unexpanded,
    }


def write(index: dict[str, Any], out_dir: Path = DATA_DIR) -> Path:
    """Write the index as compact JSON; return the file written."""
    path = out_dir / OUTPUT_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(index, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return path
