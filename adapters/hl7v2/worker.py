"""The mapping worker: claims pending inbox rows and processes them.

Run as ``fhir-server hl7 worker`` (any number, on any host) or inside the
listener as a background thread. Rows are claimed in small batches under a
lease; a worker that dies leaves its rows to be claimed again when the lease
ends, so a crash between receipt and mapping loses nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import TYPE_CHECKING

from adapters.hl7v2 import inbox
from adapters.hl7v2.processing import process

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Worker"]

logger = logging.getLogger(__name__)


class Worker:
    """Claims and processes pending inbox rows.

    :param factory: the session factory of the server's database.
    :param lease: seconds a claim holds before another worker may take the row.
    :param batch: rows claimed at once.
    :param poll_interval: seconds to sleep when nothing is pending.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        lease: float = 60.0,
        batch: int = 10,
        poll_interval: float = 1.0,
        name: str | None = None,
    ) -> None:
        self._factory, self._lease, self._batch, self._poll = factory, lease, batch, poll_interval
        #: Owner recorded in ``claimed_by``: host and process, for operators.
        self.name = name or f"worker@{socket.gethostname()}:{os.getpid()}"
        self._wake = threading.Event()
        self._stop = threading.Event()

    def run_once(self) -> int:
        """Claim one batch and process it; return how many rows were processed."""
        done = 0
        for pk, token in inbox.claim(self._factory, self.name, lease=self._lease, limit=self._batch):
            outcome = process(self._factory, pk, token)
            if outcome is None:
                logger.warning("Inbox #%d was claimed by another worker while %s mapped it.", pk, self.name)
                continue
            done += 1
            if outcome.error:
                logger.warning("Inbox #%d is %s: %s", pk, outcome.status, outcome.error)
        return done

    def run(self) -> None:
        """Process rows until :meth:`stop`; database errors are logged and retried."""
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                logger.exception("The HL7 v2 worker %s failed; retrying in %ss.", self.name, self._poll)
                busy = 0
            if not busy:
                self._wake.wait(self._poll)
                self._wake.clear()

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the batch in progress, then return from :meth:`run`."""
        self._stop.set()
        self._wake.set()
