"""AuditEvents of the ML module's writes: PhysioNet imports and risk scoring.

``ml import-physionet`` records each PhysioNet record as DICOM 110107 Import by
the OS user (:func:`fhir_server.audit.activity.record_import`). Scoring, by
``ml score`` (the OS user asked) or automatically after a vital sign is written
(the ML module asked, :data:`AUTO_RISK`), is 110100 Application Activity with the
model as a further agent and the RiskAssessments and Flags written as entities.
Each event is queued in the transaction that writes the resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fhir_server.audit.activity import (
    APPLICATION_ACTIVITY,
    SUCCESS,
    Requestor,
    activity_event,
    module_agent,
    record_alone,
    resource_entity,
)
from fhir_server.audit.outbox import enqueue

if TYPE_CHECKING:
    from typing import Any

    from sqlalchemy.orm import Session, sessionmaker

    from ml.model import TrainedModel
    from ml.scoring import PatientScore

__all__ = ["AUTO_RISK", "AUTO_SCORE", "IMPORT_PHYSIONET", "SCORE", "record_scores", "scoring_event", "scoring_failed"]

IMPORT_PHYSIONET, SCORE, AUTO_SCORE = "ml-import-physionet", "ml-score", "ml-auto-risk"
#: The requestor of automatic re-scoring: no user asked, this server's ML module did.
AUTO_RISK = Requestor("fhir-server ML automatic risk assessment")


def scoring_event(
    scores: Sequence[PatientScore],
    model: TrainedModel,
    *,
    requestor: Requestor,
    activity: str,
    outcome: str = SUCCESS,
    description: str | None = None,
    patients: Sequence[str] = (),
) -> dict[str, Any]:
    """The AuditEvent of scoring patients: who asked, the model, the patients, the resources written."""
    written = [resource_entity(f"{r['resourceType']}/{r['id']}") for score in scores for r in score.resources]
    flagged = sum(score.flagged for score in scores)
    return activity_event(
        APPLICATION_ACTIVITY, activity, requestor=requestor, outcome=outcome,
        description=description or f"Scored {len(scores)} patients; {flagged} flagged.",
        patients=[*(score.patient_id for score in scores), *patients], entities=written,
        agents=[module_agent(f"{model.name} {model.version}")],
    )  # fmt: skip


def record_scores(
    session: Session, scores: Sequence[PatientScore], model: TrainedModel, *, requestor: Requestor, activity: str
) -> None:
    """Queue the :func:`scoring_event` in ``session``'s transaction, the one writing the scores."""
    enqueue(session.connection(), [scoring_event(scores, model, requestor=requestor, activity=activity)])


def scoring_failed(
    sessions: sessionmaker[Session],
    patient_ids: Sequence[str],
    model: TrainedModel,
    *,
    requestor: Requestor,
    activity: str,
    outcome: str,
    why: str,
) -> None:
    """Record scoring that wrote nothing (a patient missing: 4; the server failed: 8) on its own."""
    event = scoring_event(
        [], model, requestor=requestor, activity=activity, outcome=outcome, description=why, patients=patient_ids
    )
    record_alone(sessions, [event])
