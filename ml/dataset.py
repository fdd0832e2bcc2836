"""The PhysioNet 2012 training data: records → FHIR → features, split and cached.

Every record goes through :func:`ml.physionet.record_to_fhir` and then
:func:`ml.features.extract`, the path live scoring takes from stored FHIR, so
training sees exactly what scoring will see. Conversion runs on every core
(it is CPU-bound and per record independent) and the features are cached
under ``var/ml-cache/`` keyed by a hash of the code that produces them, so a
change to the converter or the features invalidates the cache by itself.

Splits (deterministic for a seed): all of set A plus half of set B form the
development pool, of which a random 15 % is the validation split for early
stopping; the other half of set B is the test split, used only by
``ml evaluate``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from ml.features import PatientFeatures, extract
from ml.physionet import DEFAULT_ANCHOR, parse_outcomes, read_record, record_to_fhir

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DEFAULT_DATA_DIR",
    "VALIDATION_FRACTION",
    "Example",
    "Splits",
    "features_for_file",
    "load_examples",
    "split_examples",
]

#: Where the challenge data sits beside a checkout (``../shared/physionet2012``).
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "physionet2012"
#: Share of the development pool held out for early stopping.
VALIDATION_FRACTION = 0.15
_CACHE_DIR = Path("var") / "ml-cache"
_FEATURE_CODE = (
    "physionet.py", "_physionet_fhir.py", "physionet_codes.py",
    "_observation_values.py", "features.py", "dataset.py",
)  # fmt: skip


@dataclass(frozen=True)
class Example:
    """One record's features and outcome."""

    record_id: int
    #: ``a`` or ``b``.
    set_name: str
    features: PatientFeatures
    #: 1 for an in-hospital death.
    label: int


@dataclass(frozen=True)
class Splits:
    """Train, validation and test examples."""

    train: list[Example]
    validation: list[Example]
    test: list[Example]


def features_for_file(path: Path) -> PatientFeatures:
    """Convert one record file to FHIR and extract its features.

    Unusable rows (an empty parameter name...) are left out, as ``ml import-physionet`` leaves them out.
    """
    resources = record_to_fhir(read_record(path, []))
    patient, encounter = resources[0], resources[1]
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    return extract(observations, start=DEFAULT_ANCHOR, patient=patient, encounter=encounter)


def _code_hash() -> str:
    digest = hashlib.sha256()
    for name in _FEATURE_CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def load_examples(data_dir: Path, *, workers: int | None = None, cache: bool = True) -> list[Example]:
    """Return an :class:`Example` for every record of sets A and B that has an outcome.

    :param data_dir: the folder holding ``set-a/``, ``set-b/`` and ``Outcomes-?.txt``.
    :param workers: processes converting records; every core by default.
    :param cache: read and write the feature cache under ``var/ml-cache/``.
    :raises FileNotFoundError: if a set or outcomes file is missing.
    """
    cache_file = (
        _CACHE_DIR / f"features-{_code_hash()}-{hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:8]}.pkl"
    )
    if cache and cache_file.exists():
        with cache_file.open("rb") as handle:
            examples: list[Example] = pickle.load(handle)
        return examples
    jobs: list[tuple[str, Path, int]] = []
    for set_name in ("a", "b"):
        outcomes = parse_outcomes((data_dir / f"Outcomes-{set_name}.txt").read_text())
        files = sorted((data_dir / f"set-{set_name}").glob("*.txt"))
        if not files:
            raise FileNotFoundError(f"No records found in `{data_dir / f'set-{set_name}'}`.")
        for path in files:
            record_id = int(path.stem)
            if record_id in outcomes:
                jobs.append((set_name, path, int(outcomes[record_id].in_hospital_death)))
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = pool.map(features_for_file, [path for _, path, _ in jobs], chunksize=32)
        features = list(
            tqdm(results, total=len(jobs), desc="Records → FHIR → features", unit="record", file=sys.stderr)
        )
    examples = [
        Example(int(path.stem), set_name, feature, label)
        for (set_name, path, label), feature in zip(jobs, features, strict=True)
    ]
    if cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with cache_file.open("wb") as handle:
            pickle.dump(examples, handle)
    return examples


def split_examples(examples: Sequence[Example], seed: int) -> Splits:
    """Split examples into train, validation and test as the module docstring says."""
    set_a = sorted((e for e in examples if e.set_name == "a"), key=lambda e: e.record_id)
    set_b = sorted((e for e in examples if e.set_name == "b"), key=lambda e: e.record_id)
    rng = random.Random(seed)
    rng.shuffle(set_b)
    half = len(set_b) // 2
    pool, test = set_a + set_b[:half], set_b[half:]
    rng.shuffle(pool)
    held = round(len(pool) * VALIDATION_FRACTION)
    return Splits(train=pool[held:], validation=pool[:held], test=test)
