"""Run the publisher on a thread of the listener process, off the associations' path.

The C-STORE handler only calls :meth:`BackgroundPublisher.notify`, which sets a
flag and returns; the thread then waits ``delay`` seconds so a burst of instances
of one study costs one publish, not one per instance. The first pass at start
also retries studies whose publication failed before, which is how a restart
publishes whatever a crash left unpublished. A failing database only delays
publishing: the pass is retried after ``retry_interval``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.dicom.publisher import Publisher

__all__ = ["BackgroundPublisher"]

logger = logging.getLogger(__name__)


class BackgroundPublisher:
    """A thread that publishes pending studies whenever it is notified.

    :param publisher: does the publishing.
    :param delay: seconds to gather further instances after a notification.
    :param retry_interval: seconds before retrying a pass that raised.
    """

    def __init__(self, publisher: Publisher, *, delay: float = 0.5, retry_interval: float = 5.0) -> None:
        self.publisher = publisher
        self.delay = delay
        self.retry_interval = retry_interval
        self._condition = threading.Condition()
        self._requested = 1  # the start-up pass counts as a request
        self._completed = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; its first pass publishes everything pending."""
        if self._thread is not None:
            raise RuntimeError("The background publisher is already running.")
        self._thread = threading.Thread(target=self._run, name="dicom-publisher", daemon=True)
        self._thread.start()

    def notify(self, study_uid: str | None = None) -> None:
        """Ask for a publish pass soon; cheap and non-blocking, safe from any thread."""
        with self._condition:
            self._requested += 1
            self._condition.notify_all()

    def wait_until_idle(self, timeout: float = 30.0) -> bool:
        """Block until every notification so far is covered by a finished pass; return whether it was."""
        with self._condition:
            target = self._requested
            return self._condition.wait_for(lambda: self._completed >= target, timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the pending work with one last pass, then end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning(
                    "The DICOM publisher did not stop within %.0f s; pending studies publish at restart.", timeout
                )
            self._thread = None

    def _run(self) -> None:
        first = True
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._stopping or self._requested > self._completed)
                stopping = self._stopping
            if not first and not stopping and self.delay:
                with self._condition:
                    # Interruptible pause: stop() cuts it short.
                    self._condition.wait_for(lambda: self._stopping, self.delay)
            with self._condition:
                target = self._requested
            if self._pass(include_failed=first):
                first = False
                with self._condition:
                    self._completed = max(self._completed, target)
                    self._condition.notify_all()
            elif not stopping:
                with self._condition:
                    self._condition.wait_for(lambda: self._stopping, self.retry_interval)
            if stopping:
                return

    def _pass(self, *, include_failed: bool) -> bool:
        try:
            summary = self.publisher.publish_pending(include_failed=include_failed)
        except Exception:
            logger.exception("Publishing DICOM studies failed; retrying in %.0f s.", self.retry_interval)
            return False
        if summary.instances:
            logger.info("Published %d instances in %d studies.", summary.instances, summary.studies)
        return True
