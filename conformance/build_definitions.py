"""Generate the compact R4 element index from the official FHIR R4 (4.0.1) definitions.

Run it whenever the definitions change (they do not: 4.0.1 is frozen)::

    python -m conformance.build_definitions /work/shared/fhir-r4

The argument is either the folder holding ``hl7.fhir.r4.core-4.0.1/`` or the
package folder itself. The output, ``conformance/data/r4-elements.json.gz``, is
what :mod:`conformance` reads at run time, so the server never needs the
30 MB definition package. The same command then writes the terminology
binding index, ``conformance/data/r4-valuesets.json``
(:mod:`conformance.build_valuesets`). The element index's layout::

    {
      "fhirVersion": "4.0.1",
      "resourceTypes": ["Account", ...],             # the 146 concrete R4 resource types
      "primitives": {"date": {"json": "string", "regex": "..."}, ...},
      "types": {
        "Patient": {
          "kind": "resource", "abstract": false, "base": "DomainResource",
          "elements": {
            "Patient.deceased[x]": {
              "types": {"deceasedBoolean": "boolean", "deceasedDateTime": "dateTime"},
              "min": 0, "max": "1", "isSummary": true, "isModifier": true
            },
            "Questionnaire.item.item": {..., "contentReference": "Questionnaire.item"}
          }
        }
      }
    }

``types`` maps each JSON property name an element may appear under to its FHIR
type code, so choice elements (``value[x]``) are already expanded to
``valueQuantity``, ``valueString`` and so on. Where the definition restricts a
Quantity to the SimpleQuantity profile, the type recorded is ``SimpleQuantity``
(the JSON name still says ``Quantity``).

The data is derived from HL7 FHIR R4 4.0.1, which HL7 publishes under CC0; see
``conformance/data/LICENSE-FHIR.md``.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["DATA_DIR", "GZIP_ABOVE", "OUTPUT_NAME", "build", "find_package", "main", "write"]

#: Where the generated index is written.
DATA_DIR = Path(__file__).resolve().parent / "data"
#: Plain file name; ``.gz`` is appended when the JSON is larger than :data:`GZIP_ABOVE`.
OUTPUT_NAME = "r4-elements.json"
#: Size in bytes above which the index is gzipped, to keep the repository small.
GZIP_ABOVE = 1_000_000

_FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
_SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."

# How each primitive is written in JSON (R4 json.html#primitive). The SDs cannot
# tell us: positiveInt and unsignedInt declare a System.String value yet are
# JSON numbers.
_JSON_KINDS = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "decimal": "number",
}

# The 4.0.1 snapshots record `Resource.id` as a plain string, but the R4 spec
# (resource.html#id) defines it as `id`; we enforce the spec's rule.
_RESOURCE_ID_TYPE = "id"

# Core profiles of Quantity, which elements name as the type their values must meet.
_PROFILES = frozenset({"SimpleQuantity", "MoneyQuantity"})
# Abstract bases (Element backs every `_foo` primitive extension object) and the profiles.
_EXTRA_TYPES = frozenset({"Element", "Resource", "DomainResource"}) | _PROFILES


def find_package(root: Path) -> Path:
    """Return the ``package`` folder of ``hl7.fhir.r4.core`` 4.0.1 under ``root``.

    :param root: the package folder itself, or a folder above it.
    :raises FileNotFoundError: when no 4.0.1 core package is found.
    """
    for candidate in (root, root / "package", *root.glob("hl7.fhir.r4.core-*/package")):
        manifest = candidate / "package.json"
        if manifest.is_file():
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            if meta.get("name") == "hl7.fhir.r4.core" and meta.get("version") == "4.0.1":
                return candidate
    raise FileNotFoundError(f"No `hl7.fhir.r4.core` 4.0.1 package was found under `{root}`.")


def _wanted(sd: dict[str, Any]) -> bool:
    """Tell whether a StructureDefinition is a base resource or datatype we index."""
    if sd.get("name") in _EXTRA_TYPES:
        return True
    if sd.get("derivation") != "specialization":
        return False
    if sd["kind"] == "resource":
        return not sd.get("abstract", False)
    return sd["kind"] in ("complex-type", "primitive-type")


def _type_code(type_entry: dict[str, Any], path: str, in_resource: bool) -> str:
    """Return the FHIR type code of one ``ElementDefinition.type`` entry."""
    code: str = type_entry["code"]
    if not code.startswith(_SYSTEM_PREFIX):
        return code
    # FHIRPath system types (ids, urls of extensions) name their FHIR type in an extension.
    fhir_type = next(
        (ext["valueUrl"] for ext in type_entry.get("extension", ()) if ext["url"] == _FHIR_TYPE_EXT),
        "string",
    )
    if in_resource and path.count(".") == 1 and path.endswith(".id"):
        # Only the resource's own id: element ids (`Patient.contact.id`) really are strings.
        return _RESOURCE_ID_TYPE
    return str(fhir_type)


def _json_names(path: str, types: list[tuple[str, str]]) -> dict[str, str]:
    """Map the JSON property names of an element to their types.

    :param types: ``(type code, type to validate against)`` pairs; the code names
        the JSON property (``doseQuantity``), the second may be a profile of it.
    """
    name = path.rsplit(".", 1)[-1]
    if not name.endswith("[x]"):
        return {name: types[0][1]}
    stem = name[:-3]
    return {stem + code[0].upper() + code[1:]: target for code, target in types}


def _validated_type(type_entry: dict[str, Any], code: str) -> str:
    """Return the type a value is checked against: a core profile where one is named.

    Base definitions name only one profile, SimpleQuantity (a Quantity without
    `comparator`), e.g. on ``Dosage.doseAndRate.dose[x]``.
    """
    profiles = type_entry.get("profile", ())
    if len(profiles) == 1 and profiles[0].rsplit("/", 1)[-1] in _PROFILES:
        return str(profiles[0].rsplit("/", 1)[-1])
    return code


def _element(element: dict[str, Any], in_resource: bool) -> dict[str, Any]:
    """Reduce one snapshot ElementDefinition to what validation needs."""
    path: str = element["path"]
    out: dict[str, Any] = {}
    if "contentReference" in element:
        # Recursive structures (Questionnaire.item.item) reuse another element's children.
        out["types"] = {path.rsplit(".", 1)[-1]: "BackboneElement"}
        out["contentReference"] = element["contentReference"].lstrip("#")
    else:
        types = []
        for type_entry in element["type"]:
            code = _type_code(type_entry, path, in_resource)
            types.append((code, _validated_type(type_entry, code)))
        out["types"] = _json_names(path, types)
    out["min"] = element["min"]
    out["max"] = element["max"]
    out["isSummary"] = bool(element.get("isSummary", False))
    out["isModifier"] = bool(element.get("isModifier", False))
    return out


def _primitive(sd: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON kind and regex of a primitive type."""
    name: str = sd["type"]
    info: dict[str, Any] = {"json": _JSON_KINDS.get(name, "string"), "regex": None}
    for element in sd["snapshot"]["element"]:
        if element["path"] != f"{name}.value":
            continue
        for type_entry in element.get("type", ()):
            for ext in type_entry.get("extension", ()):
                if ext["url"] == _REGEX_EXT:
                    info["regex"] = ext["valueString"]
    return info


def build(package: Path) -> dict[str, Any]:
    """Read the core package and return the element index as plain JSON data.

    :param package: the ``package`` folder of ``hl7.fhir.r4.core`` 4.0.1.
    """
    sds = []
    for file in sorted(package.glob("StructureDefinition-*.json")):
        sd = json.loads(file.read_text(encoding="utf-8"))
        if _wanted(sd):
            sds.append(sd)
    resource_types: list[str] = []
    primitives: dict[str, Any] = {}
    types: dict[str, Any] = {}
    for sd in sds:
        if sd["kind"] == "primitive-type":
            primitives[sd["type"]] = _primitive(sd)
            continue
        # Profiles (SimpleQuantity) are keyed by their own name, their paths by the base type.
        name: str = sd["name"] if sd.get("derivation") == "constraint" else sd["type"]
        if sd["kind"] == "resource" and not sd.get("abstract", False):
            resource_types.append(name)
        elements = {
            element["path"]: _element(element, sd["kind"] == "resource")
            for element in sd["snapshot"]["element"]
            if "." in element["path"]
        }
        types[name] = {
            "kind": sd["kind"],
            "abstract": bool(sd.get("abstract", False)),
            "base": sd.get("baseDefinition", "").rsplit("/", 1)[-1] or None,
            "elements": elements,
        }
    return {
        "fhirVersion": "4.0.1",
        "source": "hl7.fhir.r4.core 4.0.1 StructureDefinition snapshots (CC0-1.0)",
        "resourceTypes": sorted(resource_types),
        "primitives": dict(sorted(primitives.items())),
        "types": dict(sorted(types.items())),
    }


def write(index: dict[str, Any], out_dir: Path = DATA_DIR) -> Path:
    """Write the index as compact JSON, gzipped when large; return the file written.

    A stale copy under the other name is removed so only one index ever exists.
    """
    raw = json.dumps(index, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    plain, packed = out_dir / OUTPUT_NAME, out_dir / f"{OUTPUT_NAME}.gz"
    out_dir.mkdir(parents=True, exist_ok=True)
    if len(raw) > GZIP_ABOVE:
        # mtime=0 keeps the output byte-identical between runs, so git sees no change.
        packed.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
        plain.unlink(missing_ok=True)
        return packed
    plain.write_bytes(raw)
    packed.unlink(missing_ok=True)
    return plain


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m conformance.build_definitions ROOT``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m conformance.build_definitions FHIR_R4_DIR", file=sys.stderr)
        return 2
    from conformance import build_invariants, build_valuesets  # they import this module, so not at the top

    package = find_package(Path(args[0]))
    index = build(package)
    path = write(index)
    print(f"Wrote {len(index['types'])} types ({len(index['resourceTypes'])} resources) to {path}.")
    terminology = build_valuesets.build(package)
    path = build_valuesets.write(terminology)
    unexpanded = len(terminology["unexpanded"])
    print(
        f"Wrote {len(terminology['bindings'])} bindings, {len(terminology['valueSets'])} value sets to {path}", end=""
    )
    print(f" ({unexpanded} value sets could not be expanded; see its `unexpanded`).")
    invariants = build_invariants.build(package)
    path = build_invariants.write(invariants)
    count = sum(len(found) for found in invariants["constraints"].values())
    print(f"Wrote {count} constraints at {len(invariants['constraints'])} paths to {path}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
