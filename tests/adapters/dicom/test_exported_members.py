"""The package's public surface is exactly its sorted ``__all__``."""

from __future__ import annotations

import types

import adapters.dicom


def test_all_is_sorted_and_complete() -> None:
    exported = adapters.dicom.__all__
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(adapters.dicom).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert set(exported) == public
    for name in exported:
        assert name.isupper() or getattr(adapters.dicom, name).__module__.startswith("adapters.dicom")
