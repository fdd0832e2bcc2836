"""The ``conformance`` package and its public modules export their public names, sorted."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import conformance
from conformance import build_definitions, build_valuesets, issues, resource_types, summary, validation


def isort_key(name: str) -> tuple[int, str]:
    """Order names as ruff's RUF022 does: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def own_public_names(module: ModuleType) -> set[str]:
    """Return the public functions and classes a module defines itself."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
    }


MODULES = [build_definitions, build_valuesets, issues, resource_types, summary, validation]


@pytest.mark.parametrize("module", [conformance, *MODULES])
def test_all_is_sorted(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=isort_key)


@pytest.mark.parametrize("module", MODULES)
def test_all_lists_every_public_name(module: ModuleType) -> None:
    assert own_public_names(module) <= set(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_package_reexports_the_modules() -> None:
    expected = {"ValidationIssue"} | set(resource_types.__all__) | set(summary.__all__) | set(validation.__all__)
    assert set(conformance.__all__) == expected
    for name in conformance.__all__:
        assert getattr(conformance, name) is not None
    assert conformance.ValidationIssue is issues.ValidationIssue


def test_import_reads_no_data() -> None:
    # The element index loads on first use, so importing the package stays cheap.
    code = (
        "import conformance, conformance.validation, conformance.summary\n"
        "from conformance._definitions import raw_definitions\n"
        "assert raw_definitions.cache_info().currsize == 0\n"
        "assert len(conformance.R4_RESOURCE_TYPES) == 146\n"
        "assert raw_definitions.cache_info().currsize == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(conformance.__file__).parents[1])
