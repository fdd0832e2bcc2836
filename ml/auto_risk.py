"""Re-score a patient in the background when one of their scoring inputs is written.

With ``FHIR_SERVER_AUTO_RISK=1`` a process calls :func:`start_from_environment`
once it has its session factory. From then on every committed write of an
Observation that NEWS2 or the model reads (matched by code, panels included)
schedules its subject Patient for re-scoring; the write itself only pays for a
dictionary update under a lock, because the note arrives through the
repository's after-commit hook (:mod:`fhir_server.repository.hooks`).

Scheduling is debounced and coalesced: a patient is scored ``delay`` seconds
after their last scheduled write (an HL7 ORU with 20 results, or a PhysioNet
import of 400 Observations, gives one score, not 400), but never later than
``max_delay`` after the first, so a steady stream still gets scored. One worker
thread scores due patients one transaction each, with :func:`ml.scoring.score_patient`.
The worker's own writes (RiskAssessment, Flag) are not inputs, so they schedule
nothing.

Each process keeps its own queue: with several gunicorn workers a patient
written through two of them may be scored twice, which is harmless (scoring
writes new versions of the same resources).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from fhir_server.audit.activity import FAILED
from fhir_server.audit.events import outcome_code
from fhir_server.errors import FhirError
from fhir_server.repository import hooks
from ml._observation_values import _BY_LOINC
from ml.audit import AUTO_RISK, AUTO_SCORE, record_scores, scoring_failed
from ml.vitals_codes import VITAL_CODES

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.orm import Session, sessionmaker

    from ml.model import TrainedModel

__all__ = ["ENVIRONMENT_VARIABLE", "INPUT_CODES", "AutoRiskScorer", "is_scoring_input", "start_from_environment"]

#: Set to ``1`` to re-score patients automatically.
ENVIRONMENT_VARIABLE = "FHIR_SERVER_AUTO_RISK"
#: Observation codes whose writes trigger re-scoring: NEWS2 inputs and panels, model inputs.
INPUT_CODES: frozenset[str] = frozenset(
    {v.code for v in VITAL_CODES} | {v.panel for v in VITAL_CODES if v.panel} | set(_BY_LOINC)
)
_log = logging.getLogger(__name__)
_started: AutoRiskScorer | None = None


def is_scoring_input(observation: dict[str, Any]) -> str | None:
    """Return the Patient id of an Observation that scoring reads, else ``None``."""
    subject = str((observation.get("subject") or {}).get("reference") or "")
    if not subject.startswith("Patient/"):
        return None
    codings = (observation.get("code") or {}).get("coding") or ()
    if any(c.get("code") in INPUT_CODES for c in codings):
        return subject.removeprefix("Patient/")
    return None


class AutoRiskScorer:
    """A debounced, coalescing queue of patients to score, drained by one thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        load_model: Callable[[], TrainedModel],
        *,
        delay: float = 2.0,
        max_delay: float = 10.0,
    ) -> None:
        """:param load_model: called once, on the worker thread, so start-up stays fast."""
        self.sessions = sessions
        self._load_model = load_model
        self.delay, self.max_delay = delay, max_delay
        #: patient id -> (first scheduled, due)
        self._pending: dict[str, tuple[float, float]] = {}
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: Patients scored so far (for tests and metrics).
        self.scored: list[str] = []

    def on_commit(self, notes: Sequence[hooks.WriteNote]) -> None:
        """The after-commit listener: schedule the subjects of written inputs."""
        patients = {
            pid
            for note in notes
            if note.resource_type == "Observation" and note.resource is not None
            and (pid := is_scoring_input(note.resource)) is not None
        }  # fmt: skip
        for pid in patients:
            self.schedule(pid)

    def schedule(self, patient_id: str) -> None:
        """Score ``patient_id`` after the debounce delay (coalescing repeats)."""
        now = time.monotonic()
        with self._condition:
            first = self._pending.get(patient_id, (now, now))[0]
            self._pending[patient_id] = (first, min(now + self.delay, first + self.max_delay))
            self._condition.notify()

    def pending(self) -> list[str]:
        """Return the patients waiting to be scored, sorted."""
        with self._condition:
            return sorted(self._pending)

    def flush(self) -> None:
        """Make every waiting patient due now, without waiting for the debounce."""
        with self._condition:
            now = time.monotonic()
            self._pending = {pid: (first, now) for pid, (first, _) in self._pending.items()}
            self._condition.notify()

    def start(self) -> AutoRiskScorer:
        """Register the listener and start the worker thread."""
        self._thread = threading.Thread(target=self._run, name="auto-risk", daemon=True)
        self._thread.start()
        hooks.add_listener(self.on_commit)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Unregister, let the worker finish what is due now, and join it."""
        hooks.remove_listener(self.on_commit)
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _due(self) -> list[str] | None:
        """Wait for due patients; ``None`` once stopping and nothing is due."""
        with self._condition:
            while True:
                now = time.monotonic()
                due = [pid for pid, (_, at) in self._pending.items() if at <= now or self._stopping]
                if due:
                    for pid in due:
                        del self._pending[pid]
                    return due
                if self._stopping:
                    return None
                wait = min((at for _, at in self._pending.values()), default=now + 60) - now
                self._condition.wait(max(wait, 0.01))

    def _run(self) -> None:
        from fhir_server.db import unit_of_work
        from ml.scoring import score_patient

        model = self._load_model()
        while (due := self._due()) is not None:
            for pid in due:
                try:
                    with unit_of_work(self.sessions) as session:
                        score = score_patient(session, pid, model)
                        # Audited in the transaction that writes the scores: no user asked, the module did.
                        record_scores(session, [score], model, requestor=AUTO_RISK, activity=AUTO_SCORE)
                    self.scored.append(pid)
                except FhirError as exc:  # deleted patient, concurrent scorer: the next write retries
                    _log.warning("Automatic risk scoring of `Patient/%s` failed: %s", pid, exc.diagnostics)
                    self._failed(pid, model, outcome_code(exc.status), exc.diagnostics)
                except Exception:  # noqa: BLE001 - logged: a background thread must survive one bad patient
                    _log.exception("Automatic risk scoring of `Patient/%s` failed", pid)
                    self._failed(pid, model, FAILED, "Scoring failed on the server.")

    def _failed(self, pid: str, model: TrainedModel, outcome: str, why: str) -> None:
        scoring_failed(self.sessions, [pid], model, requestor=AUTO_RISK, activity=AUTO_SCORE, outcome=outcome, why=why)


def start_from_environment(sessions: sessionmaker[Session]) -> AutoRiskScorer | None:
    """Start the process's scorer when ``FHIR_SERVER_AUTO_RISK=1`` (once per process)."""
    global _started  # noqa: PLW0603 - one scorer per process
    if os.environ.get(ENVIRONMENT_VARIABLE, "0") != "1" or _started is not None:
        return _started
    from ml.service import shared_model

    _started = AutoRiskScorer(sessions, shared_model).start()
    return _started
