"""JSON Patch (RFC 6902) and FHIRPath Patch, without a database."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.errors import BadRequest, UnprocessableEntity
from fhir_server.repository._fhirpath_patch import apply_fhirpath_patch
from fhir_server.repository._patch import apply_json_patch

DOC: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "x",
    "name": [{"use": "official", "family": "A"}, {"family": "B"}],
    "birthDate": "1970-01-01",
}


def params(*ops: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "operation", "part": [{"name": k, **v} for k, v in op.items()]} for op in ops],
    }


def test_json_patch_operations() -> None:
    ops = [
        {"op": "replace", "path": "/name/0/family", "value": "X"},
        {"op": "add", "path": "/name/-", "value": {"family": "C"}},
        {"op": "remove", "path": "/birthDate"},
        {"op": "test", "path": "/id", "value": "x"},
        {"op": "move", "from": "/name/2", "path": "/name/0"},
        {"op": "copy", "from": "/id", "path": "/a~1b"},
    ]
    result = apply_json_patch(DOC, ops)
    assert result["name"] == [{"family": "C"}, {"use": "official", "family": "X"}, {"family": "B"}]
    assert "birthDate" not in result and result["a/b"] == "x"
    assert DOC["name"][0]["family"] == "A"  # the input is untouched


@pytest.mark.parametrize(
    ("ops", "error", "message"),
    [
        ({"op": "add"}, BadRequest, "A JSON Patch document must be a JSON array of operations."),
        (
            [{"op": "jump", "path": "/a"}],
            BadRequest,
            "JSON Patch operation 0 has unknown `op` `jump`; use add, remove, replace, move, copy or test.",
        ),
        (
            [{"op": "remove", "path": "/name/5"}],
            UnprocessableEntity,
            "JSON Patch operation 0: index `5` is out of range.",
        ),
        (
            [{"op": "test", "path": "/id", "value": "y"}],
            UnprocessableEntity,
            "JSON Patch operation 0: the `test` of `/id` failed.",
        ),
        ([{"op": "add", "path": "name"}], BadRequest, "JSON Patch operation 0 (`add`) needs a `value`."),
    ],
)
def test_json_patch_errors_name_the_operation(ops: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        apply_json_patch(DOC, ops)
    assert str(raised.value) == message


def test_fhirpath_patch_operations() -> None:
    result = apply_fhirpath_patch(
        DOC,
        params(
            {
                "type": {"valueCode": "add"},
                "path": {"valueString": "Patient"},
                "name": {"valueString": "gender"},
                "value": {"valueCode": "male"},
            },
            {
                "type": {"valueCode": "add"},
                "path": {"valueString": "Patient"},
                "name": {"valueString": "telecom"},
                "value": {"valueContactPoint": {"value": "1"}},
            },
            {
                "type": {"valueCode": "replace"},
                "path": {"valueString": "Patient.name.where(use='official').family"},
                "value": {"valueString": "Z"},
            },
            {
                "type": {"valueCode": "insert"},
                "path": {"valueString": "Patient.name"},
                "index": {"valueInteger": 1},
                "value": {"part": [{"name": "family", "valueString": "Q"}]},
            },
            {
                "type": {"valueCode": "move"},
                "path": {"valueString": "Patient.name"},
                "source": {"valueInteger": 2},
                "destination": {"valueInteger": 0},
            },
            {"type": {"valueCode": "delete"}, "path": {"valueString": "Patient.birthDate"}},
            {"type": {"valueCode": "delete"}, "path": {"valueString": "Patient.deceasedBoolean"}},
        ),
    )
    assert result["gender"] == "male" and result["telecom"] == [{"value": "1"}]
    assert result["name"] == [{"family": "B"}, {"use": "official", "family": "Z"}, {"family": "Q"}]
    assert "birthDate" not in result


def test_fhirpath_patch_errors() -> None:
    with pytest.raises(UnprocessableEntity) as raised:
        apply_fhirpath_patch(
            DOC,
            params(
                {
                    "type": {"valueCode": "replace"},
                    "path": {"valueString": "Patient.name.family"},
                    "value": {"valueString": "x"},
                }
            ),
        )
    assert (
        str(raised.value)
        == "FHIRPath Patch operation 0 (`replace`): the path `Patient.name.family` selects 2 elements, not exactly one."
    )
    with pytest.raises(UnprocessableEntity):
        apply_fhirpath_patch(
            DOC,
            params(
                {
                    "type": {"valueCode": "add"},
                    "path": {"valueString": "Patient"},
                    "name": {"valueString": "birthDate"},
                    "value": {"valueDate": "2000-01-01"},
                }
            ),
        )
    with pytest.raises(BadRequest):
        apply_fhirpath_patch(DOC, params({"type": {"valueCode": "explode"}, "path": {"valueString": "Patient"}}))
