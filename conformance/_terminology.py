"""Terminology bindings: the generated binding index, compiled for membership tests.

The index (``conformance/data/r4-valuesets.json``, written by
:mod:`conformance.build_valuesets`) maps element paths to a binding strength
and a ValueSet, and each ValueSet to its codes per system. Here each ValueSet
becomes a :class:`ValueSet` of frozensets, built once per process, so checking
a code is one or two set lookups.

Systems the package does not define completely (LOINC, SNOMED CT, UCUM, BCP-47,
BCP-13, ISO 3166 and 4217, ...) are *open*: a code of theirs is checked for form
only, against the regex in :data:`_FORMS` or, failing one, the shape of a FHIR
``code``. The check functions return ``None`` for a member and otherwise the
reason, as a sentence fragment for the walker to put into its issue.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_DATA_FILE = Path(__file__).resolve().parent / "data" / "r4-valuesets.json"

# Forms of the codes of open systems. A BCP-13 mime type may carry parameters
# (`text/plain; charset=utf-8`), which is how Attachment.contentType is used.
_TOKEN = r"[A-Za-z0-9!#$&^_.+\-]"
_MIME_NAME = rf"[A-Za-z0-9]{_TOKEN}{{0,126}}"
_FORMS = {
    "urn:ietf:bcp:13": rf'{_MIME_NAME}/{_MIME_NAME}(?:\s*;\s*{_TOKEN}+=(?:{_TOKEN}+|"[^"]*"))*',
    # BCP-47: a primary subtag (`x` and `i` start private and grandfathered tags), then subtags.
    "urn:ietf:bcp:47": r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*",
    "urn:iso:std:iso:4217": r"[A-Z]{3}",
    "urn:iso:std:iso:3166": r"[A-Z]{2,3}|[0-9]{3}",
    "urn:iso:std:iso:3166:-2": r"[A-Z]{2}-[A-Z0-9]{1,3}",
    # UCUM case-sensitive codes are printable ASCII without spaces (`mm[Hg]`, `10*3/uL`, `{score}`).
    "http://unitsofmeasure.org": r"[!-~]+",
}
# Anything else: a FHIR `code`, no whitespace at the ends nor runs of it inside.
_CODE_FORM = re.compile(r"\S+(?: \S+)*")


@dataclass(frozen=True, slots=True)
class ValueSet:
    """The members of one expanded ValueSet."""

    url: str
    #: System -> its member codes, for systems the package defines.
    closed: dict[str, frozenset[str]]
    #: System -> the form its codes must have, for systems checked for form only.
    open: dict[str, re.Pattern[str]]
    #: Every code of every closed system, for bound ``code`` elements (which carry no system).
    codes: frozenset[str]

    def code_problem(self, code: str) -> str | None:
        """Why a bare code (a ``code``, ``string`` or ``uri`` element) is not a member, or ``None``."""
        if code in self.codes:
            return None
        if not self.open:
            return ""
        if any(form.fullmatch(code) for form in self.open.values()):
            return None
        systems = ", ".join(f"`{system}`" for system in self.open)
        return f"it is not a well-formed code of {systems}"

    def coding_problem(self, system: Any, code: str) -> str | None:
        """Why a ``system``/``code`` pair (a Coding, a Quantity's unit) is not a member, or ``None``.

        A pair without a system is judged by its code alone, as a bare code is:
        R4 lets ``Coding.system`` be absent, and such a code matches if any
        system of the value set has it.
        """
        if system is None:
            return self.code_problem(code)
        codes = self.closed.get(system)
        if codes is not None:
            return None if code in codes else ""
        form = self.open.get(system)
        if form is not None:
            return None if form.fullmatch(code) else f"it is not a well-formed code of `{system}`"
        return f"the value set has no codes from system `{system}`"


@dataclass(frozen=True, slots=True)
class Binding:
    """One element's binding: how strong, and to what."""

    strength: str
    value_set: ValueSet
    #: Codes the element's definition allows beside the value set's (`xml` for a mime type).
    also_allowed: frozenset[str] = frozenset()

    def code_problem(self, code: str) -> str | None:
        """Why a bare code is not allowed here, or ``None``; see :meth:`ValueSet.code_problem`."""
        return None if code in self.also_allowed else self.value_set.code_problem(code)


def _compile(url: str, systems: dict[str, list[str] | None]) -> ValueSet:
    closed = {system: frozenset(codes) for system, codes in systems.items() if codes is not None}
    forms = {
        system: re.compile(_FORMS[system]) if system in _FORMS else _CODE_FORM
        for system, codes in systems.items()
        if codes is None
    }
    every = frozenset(code for codes in closed.values() for code in codes)
    return ValueSet(url, closed, forms, every)


@cache
def bindings() -> dict[str, Binding]:
    """Element path -> :class:`Binding`, for each binding whose ValueSet could be expanded.

    Bindings to the few ValueSets the build could not expand (listed under
    ``unexpanded`` in the data file) are left out: nothing is known to check.
    """
    data: dict[str, Any] = json.loads(_DATA_FILE.read_bytes())
    value_sets = {url: _compile(url, systems) for url, systems in data["valueSets"].items()}
    return {
        path: Binding(entry[0], value_sets[entry[1]], frozenset(entry[2]) if len(entry) > 2 else frozenset())
        for path, entry in data["bindings"].items()
        if entry[1] in value_sets
    }
