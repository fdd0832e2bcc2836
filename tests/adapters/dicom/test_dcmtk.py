"""Interoperability with dcmtk: ``echoscu`` and ``storescu`` sending a folder to the listener.

Skipped, with the reason shown, where dcmtk is not installed (``apt-get install dcmtk``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pydicom import dcmread
from pydicom.uid import CTImageStorage

from adapters.dicom.background import BackgroundPublisher
from adapters.dicom.scp import StorageScp

from .samples import STUDY_UID, build_instance, bundled

if TYPE_CHECKING:
    from pathlib import Path

    from .environment import DicomEnv

pytestmark = pytest.mark.skipif(
    shutil.which("storescu") is None or shutil.which("echoscu") is None,
    reason="dcmtk is not installed (apt-get install dcmtk): storescu/echoscu interoperability is not tested.",
)

#: Folder name -> (storescu option proposing that compressed syntax, files). storescu
#: proposes one compressed transfer syntax per run, so each kind gets its own run.
FOLDERS = {
    "uncompressed": ("-xe", ["CT_small.dcm", "SC_rgb_jpeg_dcmd.dcm"]),
    "jpeg": ("-xy", ["SC_rgb_jpeg_dcmtk.dcm", "examples_ybr_color.dcm"]),
    "rle": ("-xr", ["MR_small_RLE.dcm", "SC_rgb_rle_2frame.dcm"]),
    "j2k": ("-xw", ["JPEG2000.dcm"]),
}
FILE_COUNT = sum(len(names) for _, names in FOLDERS.values())


@pytest.fixture
def running(dicom_env: DicomEnv) -> Iterator[tuple[StorageScp, BackgroundPublisher]]:
    background = BackgroundPublisher(dicom_env.publisher, delay=0.05)
    scp = StorageScp(dicom_env.store, host="127.0.0.1", port=0, on_stored=lambda h: background.notify())
    background.start()
    scp.start()
    yield scp, background
    scp.stop()
    background.stop()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def test_echoscu(running: tuple[StorageScp, BackgroundPublisher]) -> None:
    host, port = running[0].address
    result = _run("echoscu", "-aet", "DCMTK", "-aec", "FHIRSRV", host, str(port))
    assert result.returncode == 0, result.stderr


def test_storescu_sends_a_folder(
    dicom_env: DicomEnv, running: tuple[StorageScp, BackgroundPublisher], tmp_path: Path
) -> None:
    scp, background = running
    host, port = scp.address
    for name, (option, files) in FOLDERS.items():
        folder = tmp_path / name
        (folder / "nested").mkdir(parents=True)
        for file in files:
            shutil.copy(bundled(file), folder / file)
        if name == "uncompressed":
            for number in range(1, 4):
                uid = f"{STUDY_UID}.1.{number}"
                instance = build_instance(SOPInstanceUID=uid, InstanceNumber=str(number), SOPClassUID=CTImageStorage)
                (folder / "nested" / f"{number}.dcm").write_bytes(instance)
        # +sd +r: scan the folder recursively; -R: propose only the SOP classes found.
        result = _run(
            "storescu", "-aet", "DCMTK", "-aec", "FHIRSRV", option, "-R", "+sd", "+r", host, str(port), str(folder)
        )
        assert result.returncode == 0, result.stderr
    rows = dicom_env.instances()
    assert len(rows) == FILE_COUNT + 3
    assert {row.source for row in rows} == {"dicom:DCMTK"}
    assert background.wait_until_idle()
    studies = dicom_env.resources("ImagingStudy")
    sample_studies = {
        str(dcmread(bundled(file), stop_before_pixels=True).StudyInstanceUID)
        for _, files in FOLDERS.values()
        for file in files
    }
    assert len(studies) == len(sample_studies | {STUDY_UID})
    [built] = [s for s in studies if s["identifier"][0]["value"] == f"urn:oid:{STUDY_UID}"]
    assert built["numberOfInstances"] == 3
