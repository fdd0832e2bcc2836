"""Minimal DICOMweb WADO-RS retrieval of stored instances (PS3.18 section 10.4).

``GET /dicomweb/studies/{study}``, ``.../series/{series}`` and
``.../series/{series}/instances/{instance}`` answer
``multipart/related; type="application/dicom"``, one part per instance holding
the stored Part 10 bytes. Instances are returned in the transfer syntax they
were received in, as if the client had asked for ``transfer-syntax=*``; each
part's Content-Type names that syntax. An Accept that rules this out gets 406,
an unknown UID 404, both with a sentence naming what was asked for.

Register with ``app.register_blueprint(blueprint)``; the adapter settings
(:func:`~adapters.dicom.settings.load_dicom_settings`) are read at registration.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy import select

from adapters.dicom._codec import header_from_json
from adapters.dicom.audit import export_event
from adapters.dicom.filestore import FileStore
from adapters.dicom.mapping import patient_from_header
from adapters.dicom.settings import DicomSettings, load_dicom_settings
from adapters.dicom.store import find_instances
from fhir_server.audit.activity import Requestor
from fhir_server.audit.events import outcome_code
from fhir_server.audit.outbox import enqueue
from fhir_server.auth.bearer import protect
from fhir_server.db import unit_of_work
from fhir_server.state import EXTENSION_KEY, ServerState
from models import DicomInstance

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flask.blueprints import BlueprintSetupState

    from adapters.dicom.store import InstanceFile

__all__ = ["EXTENSION", "acceptable", "blueprint"]

#: Key of the adapter's :class:`DicomSettings` in ``app.extensions``.
EXTENSION = "dicom"
_CHUNK = 1 << 16

blueprint = Blueprint("dicomweb", __name__, url_prefix="/dicomweb")
# The files are patient data: a token must allow reading ImagingStudy, as for the FHIR API.
protect(blueprint, "ImagingStudy")


@blueprint.record_once
def _configure(state: BlueprintSetupState) -> None:
    server: ServerState | None = state.app.extensions.get(EXTENSION_KEY)
    base = server.settings.base_url if server is not None else None
    state.app.extensions.setdefault(EXTENSION, load_dicom_settings(base))


@blueprint.get("/studies/<study>")
def retrieve_study(study: str) -> Response:
    """WADO-RS Retrieve Study: every stored instance of the study."""
    return _retrieve(study, None, None, f"Study `{study}`")


@blueprint.get("/studies/<study>/series/<series>")
def retrieve_series(study: str, series: str) -> Response:
    """WADO-RS Retrieve Series: every stored instance of the series."""
    return _retrieve(study, series, None, f"Series `{series}` of study `{study}`")


@blueprint.get("/studies/<study>/series/<series>/instances/<instance>")
def retrieve_instance(study: str, series: str, instance: str) -> Response:
    """WADO-RS Retrieve Instance: one stored instance."""
    return _retrieve(study, series, instance, f"Instance `{instance}` of series `{series}` of study `{study}`")


@blueprint.after_request
def _audit(response: Response) -> Response:
    """Record every retrieval, served or refused (401, 403, 404, 406), before the response is sent.

    One short transaction on the autocommit engine, as REST requests are recorded: the
    files are streamed from disk, so no data transaction exists to share.
    """
    args = request.view_args or {}
    study = args.get("study")
    if study is None:
        return response
    server: ServerState = current_app.extensions[EXTENSION_KEY]
    context = g.get("request_context")
    client_id = getattr(context, "client_id", None)
    who = Requestor(
        str(getattr(context, "actor", "")) if client_id else "unauthenticated",
        alt_id=client_id,
        address=request.remote_addr,
    )
    what = "/".join(f"{kind} {args[kind]}" for kind in ("study", "series", "instance") if kind in args)
    with server.autocommit_engine.begin() as connection:
        stored = connection.execute(
            select(DicomInstance.header).where(DicomInstance.study_instance_uid == study).limit(1)
        ).scalar_one_or_none()
        patient = patient_from_header(header_from_json(stored))["id"] if stored is not None else None
        event = export_event(
            who, study, patient, outcome=outcome_code(response.status_code),
            description=f"HTTP {response.status_code}", what=what,
        )  # fmt: skip
        enqueue(connection, [event])
    return response


def acceptable(accept: str | None) -> bool:
    """Return whether an Accept header admits ``multipart/related; type="application/dicom"`` as stored."""
    if not accept:
        return True
    for media_range in accept.split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        values = {}
        for param in params:
            name, _, value = param.partition("=")
            values[name.strip().lower()] = value.strip().strip('"')
        if values.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if media_type.lower() in ("*/*", "multipart/*"):
            return True
        if media_type.lower() != "multipart/related":
            continue
        if values.get("type", "application/dicom").lower() != "application/dicom":
            continue
        # Transcoding is not supported, so only "as stored" can be promised.
        if values.get("transfer-syntax", "*") == "*":
            return True
    return False


def _retrieve(study: str, series: str | None, instance: str | None, what: str) -> Response:
    if not acceptable(request.headers.get("Accept")):
        return _problem(
            406,
            f'{what} can only be returned as multipart/related; type="application/dicom" '
            "in the transfer syntax it was stored in (transfer-syntax=*).",
        )
    server: ServerState = current_app.extensions[EXTENSION_KEY]
    settings: DicomSettings = current_app.extensions[EXTENSION]
    with unit_of_work(server.sessions, write=False) as session:
        found = find_instances(session, study, series, instance)
    if not found:
        return _problem(404, f"{what} is not stored on this server.")
    boundary = uuid.uuid4().hex
    return Response(
        _multipart(FileStore(settings.store_dir), found, boundary),
        status=200,
        content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
    )


def _multipart(files: FileStore, found: list[InstanceFile], boundary: str) -> Iterator[bytes]:
    for item in found:
        yield (
            f"--{boundary}\r\nContent-Type: application/dicom; transfer-syntax={item.transfer_syntax_uid}\r\n\r\n"
        ).encode("ascii")
        with files.open(item.sha256) as fp:
            while chunk := fp.read(_CHUNK):
                yield chunk
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")


def _problem(status: int, message: str) -> Response:
    return Response(message + "\n", status=status, content_type="text/plain; charset=utf-8")
