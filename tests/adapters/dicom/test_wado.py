"""Tests for WADO-RS retrieval (``adapters.dicom.wado``): the stored bytes come back."""

from __future__ import annotations

import email.parser
import email.policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters.dicom import FileStore
from adapters.dicom.store import InstanceStore
from adapters.dicom.wado import acceptable
from fhir_server.app import create_app

from .samples import SERIES_UID, SOP_UID, STUDY_UID, build_instance

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flask.testing import FlaskClient


@pytest.fixture
def dicomweb(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FlaskClient, list[bytes]]]:
    # The app factory mounts the DICOMweb blueprint, which reads the store directory then.
    monkeypatch.setenv("FHIR_SERVER_DICOM_STORE_DIR", str(tmp_path / "dicom"))
    app = create_app({"database_url": database_url, "auth": "off"})
    store = InstanceStore(FileStore(tmp_path / "dicom"), app.extensions["fhir_server"].sessions)
    sent = [build_instance(), build_instance(SOPInstanceUID=f"{SOP_UID}.2", InstanceNumber="2")]
    for data in sent:
        store.receive(data, source="test")
    yield app.test_client(), sent
    app.extensions["fhir_server"].engine.dispose()


def _parts(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    return [
        (
            f"{part.get_content_type()}; transfer-syntax={part.get_param('transfer-syntax')}",
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]


def test_retrieve_instance_returns_the_stored_bytes(dicomweb: tuple[FlaskClient, list[bytes]]) -> None:
    client, sent = dicomweb
    response = client.get(f"/dicomweb/studies/{STUDY_UID}/series/{SERIES_UID}/instances/{SOP_UID}")
    assert response.status_code == 200
    assert response.mimetype == "multipart/related"
    assert response.mimetype_params["type"] == "application/dicom"
    [(part_type, payload)] = _parts(response.headers["Content-Type"], response.data)
    assert part_type == "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"
    assert payload == sent[0]


@pytest.mark.parametrize(
    "path", [f"/dicomweb/studies/{STUDY_UID}", f"/dicomweb/studies/{STUDY_UID}/series/{SERIES_UID}"]
)
def test_retrieve_study_and_series(dicomweb: tuple[FlaskClient, list[bytes]], path: str) -> None:
    client, sent = dicomweb
    response = client.get(path, headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
    assert response.status_code == 200
    assert [payload for _, payload in _parts(response.headers["Content-Type"], response.data)] == sent


def test_unknown_instance_is_404_naming_it(dicomweb: tuple[FlaskClient, list[bytes]]) -> None:
    client, _ = dicomweb
    response = client.get(f"/dicomweb/studies/{STUDY_UID}/series/{SERIES_UID}/instances/1.2.3")
    assert response.status_code == 404
    assert (
        response.text
        == f"Instance `1.2.3` of series `{SERIES_UID}` of study `{STUDY_UID}` is not stored on this server.\n"
    )


def test_unacceptable_media_type_is_406(dicomweb: tuple[FlaskClient, list[bytes]]) -> None:
    client, _ = dicomweb
    response = client.get(f"/dicomweb/studies/{STUDY_UID}", headers={"Accept": "application/dicom+json"})
    assert response.status_code == 406


@pytest.mark.parametrize(
    ("accept", "ok"),
    [
        (None, True),
        ("*/*", True),
        ("multipart/related", True),
        ('multipart/related; type="application/dicom"', True),
        ('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1', False),
        ('multipart/related; type="application/octet-stream"', False),
        ("multipart/related; q=0, application/json", False),
        ("application/json, multipart/*", True),
    ],
)
def test_acceptable(accept: str | None, ok: bool) -> None:
    assert acceptable(accept) is ok
