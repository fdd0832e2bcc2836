"""The ``ml`` package and its public modules export their public names, sorted."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import ml
from ml import news2, vitals_codes


def public_names(module: ModuleType) -> set[str]:
    """Return the public names a module defines itself, not ones it imports."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name not in {"annotations", "TYPE_CHECKING"}
        # Constants have no __module__ and count as the module's own.
        and getattr(value, "__module__", module.__name__) == module.__name__
    }


def isort_key(name: str) -> tuple[int, str]:
    """Order names as ruff's RUF022 does: CONSTANTS, then Classes, then functions."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("module", [ml, news2, vitals_codes])
def test_all_is_sorted(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=isort_key)


def test_package_exports_match_news2() -> None:
    assert ml.__all__ == news2.__all__
    for name in ml.__all__:
        assert getattr(ml, name) is getattr(news2, name)


def test_vitals_codes_all_lists_every_public_name() -> None:
    assert set(vitals_codes.__all__) == public_names(vitals_codes)
