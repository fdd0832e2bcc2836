"""The ``adapters.hl7v2`` package and its modules export their public names, sorted."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

import adapters.hl7v2
from adapters.hl7v2 import ack, errors, framing, handler, header, server

MODULES = [ack, errors, framing, handler, header, server]


def public_names(module: ModuleType) -> set[str]:
    """Return the public names a module defines at top level (not imports)."""
    tree = ast.parse(inspect.getsource(module))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_") and name != "logger"}


def isort_key(name: str) -> tuple[int, str]:
    """Order names as ruff's RUF022 does: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("module", [adapters.hl7v2, *MODULES])
def test_all_is_sorted(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=isort_key)


@pytest.mark.parametrize("module", MODULES)
def test_all_lists_every_public_name(module: ModuleType) -> None:
    assert set(module.__all__) == public_names(module)


def test_package_exports_every_module_export() -> None:
    exported = {name for module in MODULES for name in module.__all__}
    assert set(adapters.hl7v2.__all__) == exported
    for module in MODULES:
        for name in module.__all__:
            assert getattr(adapters.hl7v2, name) is getattr(module, name)
