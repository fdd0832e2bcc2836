"""Measure risk scoring: batch throughput and ``$risk-assessment`` latency.

Not a test: run ``python bench/bench_scoring.py [--patients N] [--data DIR]
[--database-url URL] [--requests R]`` and read the figures.

1. **Batch scoring.** N PhysioNet 2012 set-A records are converted to FHIR
   once. Then, separately timed: building features from the Observation JSON
   (per patient, pure Python), turning features into model inputs for the
   whole batch (vectorised), and model inference on those precomputed inputs
   (the networks through their ``tf.function``, the trees in NumPy), in
   batches of 256 and as one batch.
2. **``$risk-assessment`` latency.** One 48-hour record is stored in a fresh
   database (temporary SQLite file by default) and ``POST
   /fhir/Patient/<id>/$risk-assessment`` is sent R times through the Flask
   test client: search for the Observations, NEWS2, model, and writing the
   RiskAssessments and Flag, committed. p50/p95/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Lets `python bench/bench_scoring.py` run from a checkout without an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.features import extract, model_inputs
from ml.physionet import DEFAULT_ANCHOR, read_record, record_to_fhir
from ml.summary import summary_matrix

#: The six sample stays in the repository; docs/benchmarks.md uses ``--data`` with the full set A.
_DEFAULT_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "physionet2012"


def patients(directory: Path, count: int) -> list[list[dict[str, Any]]]:
    """Return the FHIR resources of the first ``count`` records of set A."""
    return [record_to_fhir(read_record(p)) for p in sorted((directory / "set-a").glob("*.txt"))[:count]]


def timed(label: str, count: int, run: Any, repeat: int = 3) -> float:
    """Run ``run()`` ``repeat`` times, print the best rate, return seconds."""
    best = min(_once(run) for _ in range(repeat))
    print(f"  {label:<46} {count / best:>10,.0f} patients/s  ({best * 1000 / count:.3f} ms/patient)")
    return best


def _once(run: Any) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def batch(records: list[list[dict[str, Any]]]) -> None:
    """Print batch-scoring throughput."""
    from ml.service import shared_model

    model = shared_model()  # loads and traces once
    count = len(records)
    print(f"Batch scoring, {count} patients, {sum(len(r) for r in records) / count:.0f} resources each:")

    def features() -> list[Any]:
        return [
            extract(
                [o for o in r if o["resourceType"] == "Observation"], start=DEFAULT_ANCHOR, patient=r[0], encounter=r[1]
            )
            for r in records
        ]

    extracted = features()
    timed("features from Observation JSON (per patient)", count, features, repeat=1)

    def inputs() -> tuple[Any, ...]:
        return (*model_inputs(extracted, model.normalisation), summary_matrix(extracted))

    arrays = inputs()
    timed("model inputs + summary rows (whole batch)", count, inputs)
    for size in (256, count):

        def infer(size: int = size) -> None:
            for begin in range(0, count, size):
                model.predict_arrays(*(a[begin : begin + size] for a in arrays))

        timed(f"inference on precomputed inputs, batch {size}", count, infer)


def latency(record: list[dict[str, Any]], database_url: str | None, requests: int) -> None:
    """Print ``$risk-assessment`` latency percentiles for one patient."""
    from fhir_server import migrations
    from fhir_server.app import create_app
    from fhir_server.db import make_engine, make_session_factory, unit_of_work
    from fhir_server.warmup import prepare_process
    from ml.service import shared_model
    from ml.store import store_resources

    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{folder}/bench.sqlite3"
        engine = make_engine(url)
        migrations.upgrade(engine)
        with unit_of_work(make_session_factory(engine)) as session:
            store_resources(session, record)
        engine.dispose()
        client = create_app({"database_url": url}).test_client()
        prepare_process()  # as `fhir-server serve` does in every serving process
        shared_model()
        path = f"/fhir/Patient/{record[0]['id']}/$risk-assessment"
        for _ in range(5):  # warm-up: first-use imports, statement caches
            assert client.post(path).status_code == 200
        times, cpu = [], []
        for _ in range(requests):
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.post(path)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)
    observations = sum(r["resourceType"] == "Observation" for r in record)
    backend = url.split(":")[0]
    print(f"$risk-assessment, one patient, {observations} Observations over 48 h, {requests} requests ({backend}):")
    # CPU time too: on a shared machine wall time mostly measures the neighbours.
    for label, values in (("wall", times), ("CPU ", cpu)):
        cut = statistics.quantiles(values, n=100)
        print(
            f"  {label} p50 {cut[49]:.1f} ms   p95 {cut[94]:.1f} ms   p99 {cut[98]:.1f} ms   max {max(values):.1f} ms"
        )
    print(f"  load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=_DEFAULT_DIR)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    records = patients(args.data, args.patients)
    batch(records)
    # The record with the most Observations among the first ten: a busy 48 hours.
    busiest = max(records[:10], key=len)
    latency(busiest, args.database_url, args.requests)


if __name__ == "__main__":
    main()
