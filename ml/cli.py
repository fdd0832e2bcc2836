"""The ``fhir-server ml`` commands: import PhysioNet records, train, evaluate, score.

``ml`` is a click group of its own; the main ``fhir-server`` group registers
it. TensorFlow is imported only by the commands that need the model.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from fhir_server.audit.activity import cli_user, record_import, record_import_refused
from fhir_server.audit.events import outcome_code
from fhir_server.cli_support import server_state
from fhir_server.db import unit_of_work
from fhir_server.errors import FhirError
from fhir_server.import_report import ImportReport, strict_option
from fhir_server.state import ServerState
from ml.audit import IMPORT_PHYSIONET, SCORE, record_scores, scoring_failed
from ml.dataset import DEFAULT_DATA_DIR
from ml.physionet import Outcome, RecordError, RowError, implausible, parse_outcomes, read_record, record_to_fhir
from ml.scoring import DEFAULT_THRESHOLD, score_batch
from ml.store import iter_patient_ids, replace_record

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ml.model import TrainedModel

__all__ = ["ml"]

_MODEL_DIR = Path(__file__).resolve().parent / "artifacts"


def _load_model(directory: Path) -> TrainedModel:
    from ml.model import load_model

    try:
        return load_model(directory)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(name="ml")
def ml() -> None:
    """Risk models: import PhysioNet 2012 records, train, evaluate and score."""


@ml.command("import-physionet")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--outcomes", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Outcomes-?.txt")
@click.option("--batch-size", default=20, show_default=True, type=click.IntRange(1), help="Records per transaction.")
@click.option("--limit", type=click.IntRange(1), help="Import only the first N records (by file name).")
@strict_option
def import_physionet(directory: Path, outcomes: Path | None, batch_size: int, limit: int | None, strict: bool) -> None:
    """Store PhysioNet Challenge 2012 records (DIRECTORY of NNNNNN.txt) as FHIR resources.

    An unusable row (empty or unknown parameter, a value that is not a number,
    a bad time) is skipped and the rest of its record stored; a record that
    cannot be read at all is skipped whole. The summary on stderr names each
    reason with its first file and line; --strict exits 1 if anything was
    skipped. Each batch of records is one transaction; re-importing converges:
    unchanged resources keep their version, and Observations of rows no longer
    imported are deleted.
    """
    state = server_state()
    known: dict[int, Outcome] = {}
    if outcomes is not None:
        try:
            known = parse_outcomes(outcomes.read_text())
        except RecordError as exc:
            raise click.ClickException(f"{outcomes}: {exc}") from exc
    files = sorted(directory.glob("*.txt"))[:limit]
    if not files:
        raise click.ClickException(f"No record files (*.txt) in `{directory}`.")
    report = ImportReport(unit="row", files=len(files))
    records, started = 0, time.monotonic()
    with tqdm(total=len(files), unit="record", desc="Importing", file=sys.stderr) as progress:
        for begin in range(0, len(files), batch_size):
            batch = files[begin : begin + batch_size]
            converted = [item for path in batch if (item := _convert(path, known, report)) is not None]
            records += _store_batch(state, converted, report)
            progress.update(len(batch))
            progress.set_postfix(resources=report.stored, skipped=report.skipped)
    elapsed = max(time.monotonic() - started, 1e-9)
    click.echo(f"Stored {report.stored} resources from {records} records in {elapsed:.1f} s.")
    report.finish(strict=strict)


def _convert(path: Path, known: dict[int, Outcome], report: ImportReport) -> tuple[Path, list[dict[str, Any]]] | None:
    """One record file as FHIR resources, its unusable rows reported; ``None`` if none of it is usable."""
    skipped: list[RowError] = []
    try:
        record = read_record(path, skipped)
    except RecordError as exc:
        report.add(path, None, "record not readable", str(exc))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        report.add(path, None, "file not readable", f"{path}: {exc}")
        return None
    finally:
        for row in skipped:
            report.add(path, f"line {row.line}", row.reason, str(row))
    for measurement, _, reason in implausible(record):
        report.flag(path, f"line {measurement.line}", reason)
    return path, record_to_fhir(record, known.get(record.record_id))


def _store_record(session: Session, path: Path, resources: list[dict[str, Any]]) -> int:
    stored = replace_record(session, resources, stale_prefix=f"{resources[0]['id']}-L")
    # One AuditEvent per record, committed with it.
    record_import(session, IMPORT_PHYSIONET, resources, source=str(path))
    return stored


def _store_batch(state: ServerState, converted: list[tuple[Path, list[dict[str, Any]]]], report: ImportReport) -> int:
    """Store a batch of records in one transaction; return how many records were stored."""
    try:
        with unit_of_work(state.sessions) as session:
            report.stored += sum(_store_record(session, path, resources) for path, resources in converted)
        return len(converted)
    except FhirError:
        pass
    # One record spoiled the batch: store the others one by one and name it.
    records = 0
    for path, resources in converted:
        try:
            with unit_of_work(state.sessions) as session:
                report.stored += _store_record(session, path, resources)
            records += 1
        except FhirError as exc:
            record_import_refused(state.sessions, IMPORT_PHYSIONET, resources, source=str(path), why=exc.diagnostics)
            report.add(path, None, "record refused by the store", f"{path}: {exc.diagnostics}")
    return records


@ml.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEFAULT_DATA_DIR)
@click.option("--seed", default=2012, show_default=True, type=int)
@click.option("--max-epochs", default=30, show_default=True, type=click.IntRange(1))
@click.option("--networks", default=3, show_default=True, type=click.IntRange(1), help="Seeded networks to average.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=_MODEL_DIR, show_default=True)
@click.option("--no-cache", is_flag=True, help="Rebuild the features instead of reading var/ml-cache/.")
def train(data: Path, seed: int, max_epochs: int, networks: int, out: Path, no_cache: bool) -> None:
    """Train the mortality ensemble on set A and half of set B; write it to OUT."""
    from ml.dataset import load_examples, split_examples
    from ml.training import TrainingOptions
    from ml.training import train as fit

    examples = load_examples(data, cache=not no_cache)
    splits = split_examples(examples, seed)
    click.echo(f"Train {len(splits.train)}, validation {len(splits.validation)}, test {len(splits.test)} (not used).")
    command = f"fhir-server ml train --seed {seed} --max-epochs {max_epochs} --networks {networks}"
    model = fit(splits, TrainingOptions(seed=seed, max_epochs=max_epochs, networks=networks), command=command)
    model.save(out)
    click.echo(f"Saved the model to {out} (validation AUROC {model.metadata['validation_auroc']:.4f}).")


@ml.command()
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEFAULT_DATA_DIR)
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), default=_MODEL_DIR)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Where to write results [model dir].")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(10), help="Bootstrap resamples.")
def evaluate(data: Path, model_dir: Path, out: Path | None, resamples: int) -> None:
    """Evaluate the model on the held-out test split: AUROC, AUPRC, Brier, calibration plot."""
    from ml.dataset import load_examples, split_examples
    from ml.evaluation import evaluate as measure
    from ml.evaluation import plot_calibration

    model = _load_model(model_dir)
    splits = split_examples(load_examples(data), int(model.metadata["seed"]))
    labels = [e.label for e in splits.test]
    probabilities = model.predict([e.features for e in splits.test])
    result = measure(labels, probabilities, resamples=resamples)
    out = out or model_dir
    out.mkdir(parents=True, exist_ok=True)
    report = {"model": model.name, "version": model.version, "split": "test (half of set B)", **result.to_json()}
    (out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    plot_calibration(result, out / "calibration.png", title=f"{model.name} {model.version}, held-out test split")
    for name, metric in result.metrics.items():
        interval = metric.get("ci95")
        suffix = f" (95% CI {interval[0]:.4f}-{interval[1]:.4f})" if interval else ""
        click.echo(f"{name}: {metric['value']:.4f}{suffix}")
    click.echo(f"Wrote {out / 'evaluation.json'} and {out / 'calibration.png'}.")


@ml.command()
@click.option("--patient", "patient_ids", multiple=True, help="Patient id to score (repeatable).")
@click.option("--all", "score_all", is_flag=True, help="Score every Patient.")
@click.option("--threshold", default=DEFAULT_THRESHOLD, show_default=True, type=click.FloatRange(0, 1))
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), default=_MODEL_DIR)
@click.option("--batch-size", default=50, show_default=True, type=click.IntRange(1), help="Patients per transaction.")
def score(patient_ids: tuple[str, ...], score_all: bool, threshold: float, model_dir: Path, batch_size: int) -> None:
    """Write NEWS2 and model RiskAssessments (and high-risk Flags) for patients."""
    if bool(patient_ids) == score_all:
        raise click.UsageError("Give either --patient ID (one or more) or --all.")
    state = server_state()
    model = _load_model(model_dir)
    if score_all:
        with unit_of_work(state.sessions, write=False) as session:
            patient_ids = tuple(iter_patient_ids(session))
    scored, flagged, failures = 0, 0, []
    with tqdm(total=len(patient_ids), unit="patient", desc="Scoring", file=sys.stderr) as progress:
        for begin in range(0, len(patient_ids), batch_size):
            batch = patient_ids[begin : begin + batch_size]
            try:
                with unit_of_work(state.sessions) as session:
                    results = score_batch(session, batch, model, threshold=threshold)
                    record_scores(session, results, model, requestor=cli_user(), activity=SCORE)
            except FhirError as exc:
                scoring_failed(
                    state.sessions, batch, model, requestor=cli_user(), activity=SCORE,
                    outcome=outcome_code(exc.status), why=exc.diagnostics,
                )  # fmt: skip
                failures.append(f"patients {batch[0]}..{batch[-1]}: {exc.diagnostics}")
            else:
                scored += len(results)
                flagged += sum(result.flagged for result in results)
            progress.update(len(batch))
    click.echo(f"Scored {scored} patients; {flagged} flagged at probability >= {threshold}.")
    for failure in failures:
        click.echo(f"FAILED {failure}", err=True)
    if failures:
        raise SystemExit(1)
