"""Measure how many patients per second NEWS2 and the mortality model score.

Not a test: run ``python bench/bench_scoring.py [N] [DATA_DIR]`` and read the
figures. N PhysioNet 2012 records (200 by default) are converted to FHIR once;
then each scorer runs from the Observation JSON, as ``ml score`` does after
reading from the database (database time is not included):

* NEWS2: latest vital signs from the Observations, then the RCP chart;
* model, one patient at a time: features and one network call per patient;
* model, batched: features per patient, one network call per 256 patients.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

# Lets `python bench/bench_scoring.py` run from a checkout without an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml._news2_fhir import latest_time, vital_signs
from ml.features import extract
from ml.model import load_model
from ml.news2 import score_news2
from ml.physionet import DEFAULT_ANCHOR, read_record, record_to_fhir

_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "physionet2012"


def patients(directory: Path, count: int) -> list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
    """Return (Patient, Encounter, Observations) for the first ``count`` records of set A."""
    loaded = []
    for path in sorted((directory / "set-a").glob("*.txt"))[:count]:
        resources = record_to_fhir(read_record(path))
        loaded.append((resources[0], resources[1], [r for r in resources if r["resourceType"] == "Observation"]))
    return loaded


def rate(label: str, count: int, run: Any) -> None:
    """Time ``run()`` once and print patients per second."""
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    print(f"{label:<34} {count / elapsed:>9.1f} patients/s  ({elapsed * 1000 / count:.2f} ms/patient)")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    directory = Path(sys.argv[2]) if len(sys.argv) > 2 else _DEFAULT_DIR
    data = patients(directory, count)
    observations = sum(len(o) for _, _, o in data)
    print(f"{len(data)} patients, {observations} Observations ({observations / len(data):.0f} per patient)")
    model = load_model()
    model.predict([extract(data[0][2], start=DEFAULT_ANCHOR)])  # warm-up: graph tracing is a one-off

    def news2() -> None:
        for _, _, obs in data:
            at = latest_time(obs)
            if at is not None:
                score_news2(vital_signs(obs, at), as_of=at)

    def one_by_one() -> None:
        for patient, encounter, obs in data:
            model.predict([extract(obs, start=DEFAULT_ANCHOR, patient=patient, encounter=encounter)])

    def batched() -> None:
        model.predict([extract(o, start=DEFAULT_ANCHOR, patient=p, encounter=e) for p, e, o in data])

    def features_only() -> None:
        for patient, encounter, obs in data:
            extract(obs, start=DEFAULT_ANCHOR, patient=patient, encounter=encounter)

    rate("NEWS2", len(data), news2)
    rate("features only", len(data), features_only)
    rate("model, one patient per call", len(data), one_by_one)
    rate("model, batched (256 per call)", len(data), batched)


if __name__ == "__main__":
    main()
