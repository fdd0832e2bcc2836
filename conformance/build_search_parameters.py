"""Generate the compact R4 search-parameter file from the official FHIR R4 (4.0.1) definitions.

Run it whenever the definitions change (they do not: 4.0.1 is frozen)::

    python -m conformance.build_search_parameters /work/shared/fhir-r4

The argument is the folder holding ``official-bundles/search-parameters.json``
(the spec's own Bundle of the 1,375 SearchParameters) and the core package
(for the CompartmentDefinitions). The output,
``conformance/data/r4-search-parameters.json``, is what
:mod:`conformance.search_parameters` reads at run time. Its layout::

    {
      "fhirVersion": "4.0.1",
      "searchParameters": [
        {"url": "http://hl7.org/fhir/SearchParameter/clinical-patient", "code": "patient",
         "type": "reference", "base": ["AllergyIntolerance", ...],
         "expression": "AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | ...",
         "target": ["Patient"], "comparator": [...], "modifier": [...],
         "multipleOr": true, "multipleAnd": true,
         "component": [["http://hl7.org/fhir/SearchParameter/clinical-code", "code"], ...]}
      ],
      "compartments": {"Patient": {"Observation": ["subject", "performer"], ...}, ...}
    }

Keys with no value (no target, no component...) are left out to keep the file
small. The data is derived from HL7 FHIR R4 4.0.1, which HL7 publishes under
CC0; see ``conformance/data/LICENSE-FHIR.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from conformance.build_definitions import DATA_DIR, find_package

__all__ = ["BUNDLE_PATH", "COMPARTMENTS", "OUTPUT_NAME", "build", "main", "write"]

#: Where the spec's SearchParameter Bundle sits under the definitions folder.
BUNDLE_PATH = Path("official-bundles") / "search-parameters.json"
#: The generated file's name, under :data:`conformance.build_definitions.DATA_DIR`.
OUTPUT_NAME = "r4-search-parameters.json"
#: The compartment types R4 defines (``CompartmentDefinition-example`` is not one of them).
COMPARTMENTS = ("Device", "Encounter", "Patient", "Practitioner", "RelatedPerson")

# Optional list-valued elements copied when present, under the same name.
_LISTS = ("target", "comparator", "modifier")


def _search_parameter(resource: dict[str, Any]) -> dict[str, Any]:
    """Reduce one SearchParameter resource to what the registry needs."""
    out: dict[str, Any] = {
        "url": resource["url"],
        "code": resource["code"],
        "type": resource["type"],
        "base": list(resource["base"]),
    }
    if resource.get("expression"):
        out["expression"] = resource["expression"]
    for key in _LISTS:
        if resource.get(key):
            out[key] = list(resource[key])
    for key in ("multipleOr", "multipleAnd"):
        if key in resource:
            out[key] = bool(resource[key])
    if resource.get("component"):
        out["component"] = [[part["definition"], part["expression"]] for part in resource["component"]]
    return out


def _compartment(resource: dict[str, Any]) -> dict[str, list[str]]:
    """Map each resource type of one CompartmentDefinition to its linking parameter codes."""
    return {entry["code"]: list(entry["param"]) for entry in resource.get("resource", ()) if entry.get("param")}


def build(root: Path) -> dict[str, Any]:
    """Read the official definitions and return the search-parameter data as plain JSON.

    :param root: the folder holding ``official-bundles/`` and the core package.
    :raises FileNotFoundError: when the Bundle or the core package is missing.
    """
    bundle_file = root / BUNDLE_PATH
    if not bundle_file.is_file():
        raise FileNotFoundError(f"The SearchParameter Bundle `{bundle_file}` was not found.")
    bundle = json.loads(bundle_file.read_text(encoding="utf-8"))
    params = [_search_parameter(entry["resource"]) for entry in bundle["entry"]]
    params.sort(key=lambda param: str(param["url"]))
    package = find_package(root)
    compartments: dict[str, dict[str, list[str]]] = {}
    for file in sorted(package.glob("CompartmentDefinition-*.json")):
        resource = json.loads(file.read_text(encoding="utf-8"))
        if resource["code"] in COMPARTMENTS and resource["id"] != "example":
            compartments[resource["code"]] = _compartment(resource)
    return {
        "fhirVersion": "4.0.1",
        "source": "hl7.fhir.r4 4.0.1 search-parameters.json and CompartmentDefinitions (CC0-1.0)",
        "searchParameters": params,
        "compartments": dict(sorted(compartments.items())),
    }


def write(data: dict[str, Any], out_dir: Path = DATA_DIR) -> Path:
    """Write the data as compact JSON, one parameter per line so diffs stay readable."""
    lines = [json.dumps(param, separators=(",", ":"), ensure_ascii=False) for param in data["searchParameters"]]
    head = {key: value for key, value in data.items() if key not in ("searchParameters", "compartments")}
    text = (
        json.dumps(head, separators=(",", ":"))[:-1]
        + ',\n"searchParameters":[\n'
        + ",\n".join(lines)
        + '\n],\n"compartments":'
        + json.dumps(data["compartments"], separators=(",", ":"))
        + "}\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / OUTPUT_NAME
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m conformance.build_search_parameters ROOT``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m conformance.build_search_parameters FHIR_R4_DIR", file=sys.stderr)
        return 2
    data = build(Path(args[0]))
    path = write(data)
    print(
        f"Wrote {len(data['searchParameters'])} search parameters and "
        f"{len(data['compartments'])} compartments to {path}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
