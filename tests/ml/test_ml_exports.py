"""The ML modules added for the risk model export their public names, sorted."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

MODULES = ["ml.dataset", "ml.evaluation", "ml.features", "ml.physionet", "ml.physionet_codes", "ml.scoring", "ml.store"]


def public_definitions(module: ModuleType) -> set[str]:
    """Return the public classes and functions a module defines itself."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }


def isort_key(name: str) -> tuple[int, str]:
    """Order names as ruff's RUF022 does: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__, key=isort_key)
    assert public_definitions(module) <= set(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)
