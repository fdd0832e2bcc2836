"""Benchmark the DICOM listener against dcmtk's ``storescp``.

Generates a study of small synthetic CT instances (64x64, 16-bit, explicit VR
little endian) in a temporary folder, sends it over one association with a
pynetdicom SCU to ``fhir-server dicom listen`` (run as its own process, as in
production) and measures instances/s received and the time until the whole
study is published as one ImagingStudy; then sends the same data sets with the
same SCU to ``storescp`` writing to disk, and prints both figures.

    .venv/bin/python bench/bench_dicom.py [--count 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from sqlalchemy import func, select

from fhir_server import migrations
from fhir_server.db import make_engine
from models import DicomInstance

ROOT = Path(__file__).resolve().parent.parent


def generate_study(folder: Path, count: int) -> list[Path]:
    """Write *count* CT instances of one study (4 series) to *folder*."""
    study = generate_uid()
    series = [generate_uid() for _ in range(4)]
    rng = np.random.default_rng(0)
    paths = []
    for number in range(1, count + 1):
        ds = Dataset()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series[number % 4]
        ds.SeriesNumber = number % 4 + 1
        ds.InstanceNumber = number
        ds.PatientID = "BENCH-1"
        ds.PatientName = "Bench^Mark"
        ds.Modality = "CT"
        ds.StudyDate, ds.StudyTime = "20260101", "120000"
        ds.Rows = ds.Columns = 64
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelData = rng.integers(0, 4096, (64, 64), dtype=np.uint16).tobytes()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"{number:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_echo(port: int, ae_title: str, timeout: float = 30.0) -> None:
    ae = AE(ae_title="BENCHSCU")
    ae.add_requested_context(Verification)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assoc = ae.associate("127.0.0.1", port, ae_title=ae_title)
        if assoc.is_established:
            assoc.send_c_echo()
            assoc.release()
            return
        time.sleep(0.2)
    raise RuntimeError(f"No DICOM listener answered on port {port} within {timeout:.0f} s.")


def send(datasets: list[Dataset], port: int, ae_title: str) -> float:
    """C-STORE every data set over one association; return the seconds it took."""
    ae = AE(ae_title="BENCHSCU")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    started = time.perf_counter()
    assoc = ae.associate("127.0.0.1", port, ae_title=ae_title)
    if not assoc.is_established:
        raise RuntimeError(f"The association to {ae_title} on port {port} was not established.")
    # pynetdicom writes a P-DATA PDU in several small sends; without TCP_NODELAY,
    # Nagle's algorithm meets the peer's delayed ACK and every C-STORE waits ~40 ms,
    # whichever SCP is on the other end.
    sock = assoc.dul.socket.socket if assoc.dul.socket is not None else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    failed = [ds.SOPInstanceUID for ds in datasets if assoc.send_c_store(ds).Status != 0]
    assoc.release()
    elapsed = time.perf_counter() - started
    if failed:
        raise RuntimeError(f"{len(failed)} instances were refused by {ae_title}, e.g. `{failed[0]}`.")
    return elapsed


def bench_ours(datasets: list[Dataset], work: Path, database_url: str | None) -> tuple[float, float]:
    url = database_url or f"sqlite:///{work / 'fhir.sqlite3'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    port = free_port()
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": url, "FHIR_SERVER_DICOM_STORE_DIR": str(work / "store")}
    command = [sys.executable, "-m", "adapters.dicom.cli", "listen", "--host", "127.0.0.1", "--port", str(port)]
    log = (work / "listener.log").open("wb")
    listener = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_echo(port, "FHIRSRV")
        started = time.perf_counter()
        sent = send(datasets, port, "FHIRSRV")
        query = select(func.count()).select_from(DicomInstance).where(DicomInstance.published.is_(True))
        while True:
            with engine.connect() as connection:
                if connection.execute(query).scalar_one() >= len(datasets):
                    break
            time.sleep(0.05)
        published = time.perf_counter() - started
    finally:
        listener.terminate()
        listener.wait(60)
        log.close()
        engine.dispose()
    return sent, published


def bench_storescp(datasets: list[Dataset], work: Path) -> float:
    port = free_port()
    out = work / "storescp"
    out.mkdir()
    command = ["storescp", "-aet", "STORESCP", "+xa", "-od", str(out), str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_echo(port, "STORESCP")
        return send(datasets, port, "STORESCP")
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        (work / "study").mkdir()
        paths = generate_study(work / "study", args.count)
        # Decoded up front so the SCU's own cost is the same for both targets.
        datasets = [dcmread(path) for path in paths]
        sent, published = bench_ours(datasets, work, args.database_url)
        n = args.count
        print(
            f"fhir-server dicom listen: {n} instances in {sent:.2f} s = {n / sent:.0f} instances/s; "
            f"all published {published:.2f} s after the association opened"
        )
        if shutil.which("storescp") is None:
            print("storescp: not installed (apt-get install dcmtk), no comparison.")
            return
        reference = bench_storescp(datasets, work)
        print(f"dcmtk storescp:           {n} instances in {reference:.2f} s = {n / reference:.0f} instances/s")
        print(f"ratio: {sent / reference:.2f}x storescp's time (target <= 3x)")


if __name__ == "__main__":
    main()
