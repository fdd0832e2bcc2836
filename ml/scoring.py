"""Score a patient with NEWS2 and the mortality model, and store the results as FHIR.

For one patient :func:`score_patient` reads the Patient, the ICU Encounter and
the Observations (:mod:`ml.store`), then writes through the repository:

* a RiskAssessment for NEWS2 (:func:`ml.news2.score_news2` on the latest vital
  signs). When a NEWS2 input is missing (imported challenge data has no ACVPU
  and FiO2 only while ventilated) it is ``preliminary``, without a
  prediction, and its note says what is missing: a score is never guessed;
* a RiskAssessment for the model, with the probability of in-hospital death,
  a qualitative risk, and the Observations it used as ``basis``;
* a Flag when that probability reaches the threshold, made ``inactive`` again
  when a later score falls below it.

Ids derive from the patient id, so scoring again writes new versions of the
same resources and their history shows how the risk changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from conformance import fhir_json
from fhir_server.errors import FhirError
from ml._news2_fhir import vital_signs
from ml._risk_resources import DEFAULT_THRESHOLD, flag_resource, model_assessment, news2_assessment
from ml.features import HOURS, extract
from ml.news2 import News2Result, Parameter, score_news2
from ml.store import PatientRecord, load_encounter, load_patient, repository

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from fhir_server.repository import SqlRepository, StoredResource
    from ml.features import PatientFeatures
    from ml.model import TrainedModel

__all__ = [
    "DEFAULT_THRESHOLD",
    "PatientScore",
    "admission_time",
    "assess",
    "derived_id",
    "score_batch",
    "score_patient",
    "store_score",
]


@dataclass(frozen=True)
class PatientScore:
    """What scoring one patient produced."""

    patient_id: str
    #: The NEWS2 result (complete or not).
    news2: News2Result | None
    #: Probability of in-hospital death; ``None`` without observations.
    probability: float | None
    #: Whether an active Flag now exists for the patient.
    flagged: bool
    #: The resources to store (RiskAssessments, Flag).
    resources: tuple[dict[str, Any], ...]


def derived_id(patient_id: str, suffix: str) -> str:
    """Return ``<patient id>-<suffix>``, hashed when that would pass FHIR's 64 characters."""
    candidate = f"{patient_id}-{suffix}"
    if len(candidate) <= 64:
        return candidate
    return f"{hashlib.sha256(patient_id.encode()).hexdigest()[:40]}-{suffix}"


def admission_time(record: PatientRecord) -> datetime | None:
    """Return the ICU admission: Encounter.period.start, else the earliest Observation."""
    start = ((record.encounter or {}).get("period") or {}).get("start")
    if isinstance(start, str):
        moment = datetime.fromisoformat(start)
        if moment.utcoffset() is not None:
            return moment
    times = [o.get("effectiveDateTime") for o in record.observations]
    parsed = [datetime.fromisoformat(t) for t in times if isinstance(t, str) and len(t) >= 16]
    aware = [t for t in parsed if t.utcoffset() is not None]
    return min(aware) if aware else None


def assess(
    record: PatientRecord,
    model: TrainedModel,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    now: datetime | None = None,
    previous_flag: dict[str, Any] | None = None,
    precomputed: tuple[PatientFeatures, float] | None = None,
) -> PatientScore:
    """Score one patient without touching the database; return the resources to store.

    :param now: the clock, for whether the 48-hour window is complete.
    :param previous_flag: the patient's current model Flag, if any, so a
        score below the threshold can make it inactive.
    :param precomputed: the patient's features and model probability, when a
        batch was run through the model at once (:func:`score_batch`).
    """
    now = now or datetime.now(UTC)
    pid = record.patient["id"]
    encounter_id = (record.encounter or {}).get("id")
    resources: list[dict[str, Any]] = []
    # One pass over the Observations: the latest reading of each parameter; the
    # newest of those is the latest NEWS2 reading, the time NEWS2 is scored at.
    vitals = vital_signs(record.observations)
    taken = [m.taken_at for p in Parameter if (m := vitals.get(p)) is not None]
    news2_time = max(taken) if taken else None
    news2 = None
    if news2_time is not None:
        news2 = score_news2(vitals, as_of=news2_time)
        resources.append(news2_assessment(derived_id(pid, "news2"), pid, encounter_id, news2))
    start = admission_time(record)
    probability, flagged = None, False
    if start is not None:
        if precomputed is not None:
            features, probability = precomputed
        else:
            features = extract(record.observations, start=start, patient=record.patient, encounter=record.encounter)
            probability = float(model.predict([features])[0])
        complete = now >= start + timedelta(hours=HOURS)
        occurrence = start + timedelta(hours=features.last_hour)
        resources.append(
            model_assessment(
                derived_id(pid, "mortality"), pid, encounter_id, probability, features.basis,
                occurrence=occurrence, complete=complete, threshold=threshold, model=model,
            )
        )  # fmt: skip
        flagged = probability >= threshold
        was_active = previous_flag is not None and previous_flag.get("status") == "active"
        if flagged or was_active:
            resources.append(
                flag_resource(
                    derived_id(pid, "mortality-flag"), pid, encounter_id, probability, threshold,
                    occurrence=occurrence, active=flagged,
                )
            )  # fmt: skip
    return PatientScore(pid, news2, probability, flagged, tuple(resources))


def score_patient(
    source: Session | SqlRepository,
    patient_id: str,
    model: TrainedModel,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    now: datetime | None = None,
    encounter_id: str | None = None,
) -> PatientScore:
    """Read a patient, score it and store the RiskAssessments (and Flag).

    The caller owns the unit of work; nothing is committed here.

    :param encounter_id: score this Encounter's stay instead of the patient's latest.
    :raises fhir_server.errors.NotFound: if the Patient (or Encounter) does not exist.
    """
    return store_score(source, model, patient_id=patient_id, encounter_id=encounter_id, threshold=threshold, now=now)[0]


def store_score(
    source: Session | SqlRepository,
    model: TrainedModel,
    *,
    patient_id: str | None = None,
    encounter_id: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    now: datetime | None = None,
) -> tuple[PatientScore, list[StoredResource]]:
    """Score a patient (or one Encounter of theirs) and store the results; return both.

    :raises fhir_server.errors.NotFound: if the Patient or Encounter does not exist.
    """
    repo = repository(source)
    if encounter_id is not None:
        record = load_encounter(repo, encounter_id)
    elif patient_id is not None:
        record = load_patient(repo, patient_id)
    else:
        raise ValueError("Give a patient_id or an encounter_id to score.")
    pid = record.patient["id"]
    previous_flag = _current(repo, derived_id(pid, "mortality-flag"))
    score = assess(record, model, threshold=threshold, now=now, previous_flag=previous_flag)
    stored = [repo.update(r["resourceType"], r["id"], r).stored for r in score.resources]
    return score, stored


def score_batch(
    source: Session | SqlRepository,
    patient_ids: Sequence[str],
    model: TrainedModel,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    now: datetime | None = None,
) -> list[PatientScore]:
    """Score several patients with one model call and store their results.

    Reading and storing stay per patient; the networks and trees run once for
    the whole batch, which is what makes ``ml score --all`` fast.

    :raises fhir_server.errors.NotFound: if a Patient does not exist.
    """
    repo = repository(source)
    records = [load_patient(repo, pid) for pid in patient_ids]
    starts = [admission_time(record) for record in records]
    features = [
        extract(r.observations, start=start, patient=r.patient, encounter=r.encounter)
        for r, start in zip(records, starts, strict=True)
        if start is not None
    ]
    probabilities = iter(model.predict(features).tolist()) if features else iter(())
    feature_iter = iter(features)
    scores = []
    for record, start in zip(records, starts, strict=True):
        precomputed = (next(feature_iter), float(next(probabilities))) if start is not None else None
        previous_flag = _current(repo, derived_id(record.patient["id"], "mortality-flag"))
        score = assess(
            record, model, threshold=threshold, now=now, previous_flag=previous_flag, precomputed=precomputed
        )
        for resource in score.resources:
            repo.update(resource["resourceType"], resource["id"], resource)
        scores.append(score)
    return scores


def _current(repo: SqlRepository, flag_id: str) -> dict[str, Any] | None:
    try:
        content = repo.read("Flag", flag_id).content
    except FhirError:
        return None
    return None if content is None else fhir_json.loads(content)
