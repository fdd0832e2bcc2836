"""Generate the R4 invariant index: every ``constraint`` of the R4 resource and datatype snapshots.

Run by :mod:`conformance.build_definitions` (``python -m conformance.build_definitions
/work/shared/fhir-r4``), which writes ``conformance/data/r4-invariants.json``::

    {
      "fhirVersion": "4.0.1",
      "constraints": {
        "Observation": [{"key": "obs-6", "severity": "error", "human": "...", "expression": "...",
                         "unlessAbsent": "dataAbsentReason"}],  # holds whenever that child is absent
        "Patient.contact": [...],                   # a backbone element, by its element path
        "Quantity": [...],                          # a datatype, by its name: met wherever one is used
        "ElementDefinition.max": [...]              # an element of another type, by its element path
      },
      "notEvaluated": {"ele-1": "reason", ...}      # keys deliberately left out, and why
    }

The keys are the walker's context keys (:mod:`conformance._definitions`): a type
name for the constraints on a type's root, which hold for every instance of the
type, and an element path for the constraints of one element. A constraint an
element only repeats from its type (``ext-1`` on every ``extension``) is kept
once, on the type. Keys in ``notEvaluated`` are enforced otherwise (the walker
checks them structurally) or need what no FHIRPath engine here has; each says
which.

The data is derived from HL7 FHIR R4 4.0.1 (CC0); see ``conformance/data/LICENSE-FHIR.md``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conformance.build_definitions import DATA_DIR, _wanted

__all__ = ["NOT_EVALUATED", "OUTPUT_NAME", "build", "write"]

#: Plain file name of the index.
OUTPUT_NAME = "r4-invariants.json"

#: Constraint keys not run through FHIRPath, each with the reason.
NOT_EVALUATED: dict[str, str] = {
    "ele-1": (
        "structural: the walker rejects empty objects, empty arrays, nulls and `_name` siblings"
        " that are empty, so every element it accepts has a value or children"
    ),
    "dom-2": "structural: the walker rejects a contained resource that has `contained`",
    "dom-3": (
        "native: the walker matches each contained id against the `#id` references, canonicals and uris it"
        " collected (fhirpathpy's descendants() took 25 ms per resource with contained ones)"
    ),
    "txt-1": "structural: conformance._narrative parses the XHTML and enforces the allowed elements (htmlChecks())",
    "txt-2": "structural: conformance._narrative requires non-whitespace content in the div (htmlChecks())",
    "ref-1": (
        "structural: the walker resolves every `#id` reference against the resource's contained ids"
        " (%rootResource.contained.id) and rejects one that matches none"
    ),
    "dom-6": (
        "best practice (elementdefinition-bestpractice), not a conformance rule: it asks every resource for"
        " narrative, which this server does not generate and most clients do not send, so it would warn on"
        " nearly every write (all 721 Synthea sample resources) and bury the warnings that matter"
    ),
    "con-3": "best practice (elementdefinition-bestpractice), like dom-6: not reported",
    "ctm-1": (
        "needs resolve() on CareTeam.participant.member, which may point outside the resource;"
        " the server does not look references up during validation"
    ),
}


#: Constraints that hold whenever one child element is absent, so that evaluation
#: can be skipped then. Read off the expression's first term (``X.empty() or ...``,
#: ``X.exists() implies ...``) by :data:`_GUARD`, or listed here when the whole
#: expression is about one child: dom-4 and dom-5 only look into ``contained``.
GUARDS: dict[str, str] = {"dom-4": "contained", "dom-5": "contained"}
_GUARD = re.compile(
    r"^(?P<child>[a-z]\w*)\.(?:empty\(\) or |exists\(\)\.not\(\) or |hasValue\(\)\.not\(\) or "
    r"|exists\(\) implies |hasValue\(\) implies )"
)


def _top_level(expression: str, operators: tuple[str, ...]) -> bool:
    """Tell whether any of ``operators`` occurs outside parentheses and string literals."""
    depth, quoted, word = 0, False, []
    for char in expression + " ":
        if quoted:
            quoted = char != "'"
            continue
        if char == "'":
            quoted = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char.isalnum():
            word.append(char)
            continue
        if depth == 0 and "".join(word) in operators:
            return True
        word = []
    return False


def _constraint(c: dict[str, Any]) -> dict[str, str]:
    expression: str = c["expression"]
    out = {"key": c["key"], "severity": c["severity"], "human": c["human"], "expression": expression}
    guard = GUARDS.get(c["key"])
    if guard is None and (match := _GUARD.match(expression)) is not None:
        rest = expression[match.end() :]
        # `implies` binds loosest and `xor` as tightly as `or`: either at the top level
        # after the first term would take that term as its operand, and the guard would not hold.
        if not _top_level(rest, ("implies", "xor")):
            guard = match["child"]
    if guard is not None:
        out["unlessAbsent"] = guard
    return out


_BEST_PRACTICE = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"


def _best_practice(c: dict[str, Any]) -> bool:
    return any(ext.get("url") == _BEST_PRACTICE and ext.get("valueBoolean") for ext in c.get("extension", ()))


def _constraints(element: dict[str, Any]) -> list[dict[str, str]]:
    return [
        _constraint(c)
        for c in element.get("constraint", ())
        if "expression" in c and not _best_practice(c) and c["key"] not in NOT_EVALUATED
    ]


def build(package: Path) -> dict[str, Any]:
    """Read the core package and return the invariant index as plain JSON data."""
    sds = []
    for file in sorted(package.glob("StructureDefinition-*.json")):
        sd = json.loads(file.read_text(encoding="utf-8"))
        if _wanted(sd) and sd["kind"] != "primitive-type":
            sds.append(sd)
    # Constraints on each type's root hold wherever the type is used.
    roots: dict[str, list[dict[str, str]]] = {}
    for sd in sds:
        name = sd["name"] if sd.get("derivation") == "constraint" else sd["type"]
        roots[name] = _constraints(sd["snapshot"]["element"][0])
    index: dict[str, list[dict[str, str]]] = {}
    for sd in sds:
        name = sd["name"] if sd.get("derivation") == "constraint" else sd["type"]
        if (found := roots[name]) and not sd.get("abstract", False):
            index[name] = found
        if sd.get("derivation") == "constraint":
            continue  # a profile's element paths are its base type's
        for element in sd["snapshot"]["element"][1:]:
            inherited = set()
            for type_entry in element.get("type", ()):
                inherited |= {c["key"] for c in roots.get(type_entry["code"], ())}
            found = [c for c in _constraints(element) if c["key"] not in inherited]
            if found:
                index[element["path"]] = found
    return {
        "fhirVersion": "4.0.1",
        "source": "hl7.fhir.r4.core 4.0.1 StructureDefinition snapshots (CC0-1.0)",
        "constraints": dict(sorted(index.items())),
        "notEvaluated": NOT_EVALUATED,
    }


def write(index: dict[str, Any], out_dir: Path = DATA_DIR) -> Path:
    """Write the index as JSON with one constraint per line; return the file written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / OUTPUT_NAME
    path.write_text(json.dumps(index, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
