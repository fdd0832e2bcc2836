"""Which access tokens are revoked: known in every process at once, without a query per request.

On PostgreSQL every row inserted in ``auth_revoked_token`` sends ``NOTIFY fhir_server_revoked``
with its ``jti`` when its transaction commits (a trigger, migration 0013), whatever path inserted
it. A serving process keeps a :class:`RevocationWatch`: a daemon thread that LISTENs on a
connection of its own, then loads the unexpired revocations (after LISTEN, so none committed in
between is missed) and adds every ``jti`` notified. While it is live, a request's revocation
check is a set look-up instead of a round trip to the database.

PostgreSQL delivers a notification to every listener when the revoking transaction commits,
before the revocation's response reaches its client: a request sent after that response is
checked against a set that already holds the token (but for the scheduling of the listening
thread, a fraction of a millisecond). A revocation made in this process is added to its set
at once (:meth:`RevocationWatch.add`).

Whenever the watch is not live (not started, connecting, its connection lost, SQLite), checks
query the table: no revocation is ever missed for want of a notification. The listener sends a
keep-alive query when idle, so a dead connection is noticed within :data:`KEEPALIVE` seconds
even when nothing is revoked.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, bindparam, event
from sqlalchemy import select as sql_select

from models import AuthRevokedToken

CHANNEL = "fhir_server_revoked"
APPLICATION_NAME = "fhir-server revocation watch"
#: Seconds the listener waits for a notification before a keep-alive query.
KEEPALIVE = 5.0
#: Seconds between reloads of the set, which drop revocations of tokens that have expired.
RELOAD_EVERY = 3600.0
#: Seconds to wait before reconnecting after the listening connection failed (doubling up to the cap).
RETRY_FIRST, RETRY_CAP = 0.5, 30.0

_REVOKED = sql_select(AuthRevokedToken.jti).where(AuthRevokedToken.jti == bindparam("jti"))
_UNEXPIRED = "SELECT jti FROM auth_revoked_token WHERE expires > now()"

_log = logging.getLogger(__name__)


class RevocationWatch:
    """One process's view of ``auth_revoked_token``; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        #: An autocommit engine (:func:`fhir_server.db.make_autocommit_engine`): one round trip per fallback check.
        self._engine = engine
        self._revoked: set[str] = set()
        self._live = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: A pipe whose write end :meth:`stop` writes to, so the listener's wait ends at once.
        self._wake: tuple[int, int] | None = None
        self._wake_lock = threading.Lock()

    @property
    def live(self) -> bool:
        """Whether checks are answered from the notified set (else by a query)."""
        return self._live

    def is_revoked(self, jti: str) -> bool:
        if self._live:
            return jti in self._revoked
        with self._engine.connect() as connection:
            return connection.execute(_REVOKED, {"jti": jti}).first() is not None

    def add(self, jti: str) -> None:
        """A revocation this process is committing: refused here at once, before any notification."""
        self._revoked.add(jti)

    def start(self) -> bool:
        """Listen on a daemon thread (PostgreSQL only); ``False`` where there is nothing to listen to."""
        if self._engine.dialect.name != "postgresql" or self._thread is not None:
            return False
        self._wake = os.pipe()
        # Disposing of the engine (an app shutting down, a test ending) stops the listener with it.
        event.listen(self._engine, "engine_disposed", lambda _engine: self.stop(wait=False))
        self._thread = threading.Thread(target=self._run, name="revocation-watch", daemon=True)
        self._thread.start()
        return True

    def stop(self, *, wait: bool = True) -> None:
        """End the listener (checks query the table from now on); ``wait`` for its thread to end."""
        if self._stop.is_set():
            return
        with self._wake_lock:
            self._stop.set()
            self._live = False
            if self._wake is not None:
                os.write(self._wake[1], b"x")
        if wait and self._thread is not None:
            self._thread.join(timeout=KEEPALIVE + 1)

    # -- the listening thread --------------------------------------------------------------

    def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake[0]
        retry = RETRY_FIRST
        try:
            while not self._stop.is_set():
                try:
                    self._listen(wake)
                    retry = RETRY_FIRST
                except Exception:  # noqa: BLE001 - any failure: fall back to queries and reconnect
                    _log.warning("Revocation notifications interrupted; checking the table per request", exc_info=True)
                finally:
                    self._live = False
                if self._stop.wait(retry):
                    return
                retry = min(retry * 2, RETRY_CAP)
        finally:
            with self._wake_lock:
                for fd in self._wake:
                    os.close(fd)
                self._wake = None

    def _listen(self, wake: int) -> None:
        pooled = self._engine.raw_connection()
        dbapi: Any = pooled.driver_connection
        pooled.detach()  # this thread's alone, closed when it ends
        try:
            dbapi.autocommit = True
            cursor = dbapi.cursor()
            # Named, so an administrator can tell these connections apart in pg_stat_activity.
            cursor.execute(f"SET application_name = '{APPLICATION_NAME}'")
            cursor.execute(f"LISTEN {CHANNEL}")
            reloaded_at = -RELOAD_EVERY
            while not self._stop.is_set():
                if time.monotonic() - reloaded_at >= RELOAD_EVERY:
                    # After LISTEN: a revocation committed from now on is notified, one committed
                    # before is loaded. Notifications are handled on this thread, after the swap.
                    cursor.execute(_UNEXPIRED)
                    self._revoked = {row[0] for row in cursor.fetchall()}
                    reloaded_at = time.monotonic()
                    self._live = True
                if self._stop.is_set():
                    break
                if not _wait_for_notifications(dbapi, self._revoked.add, wake=wake, timeout=KEEPALIVE):
                    cursor.execute("SELECT 1")  # keep-alive: raises on a dead connection
                    cursor.fetchall()
        finally:
            self._live = False
            pooled.close()


def _wait_for_notifications(dbapi: Any, handle: Callable[[str], None], *, wake: int, timeout: float) -> bool:
    """Pass each notification's payload on ``dbapi`` (psycopg2 or psycopg 3) to ``handle``.

    Returns ``True`` as soon as at least one came; ``False`` after ``timeout`` seconds without
    one, or when the file descriptor ``wake`` became readable (the watch is stopping).
    """
    ready = select.select([dbapi.fileno(), wake], [], [], timeout)[0]
    if dbapi.fileno() not in ready:
        return False
    if hasattr(dbapi, "poll"):  # psycopg2
        dbapi.poll()
        payloads = [notification.payload for notification in dbapi.notifies]
        dbapi.notifies.clear()
    else:  # psycopg 3: timeout=0 reads what has arrived without waiting
        payloads = [notification.payload for notification in dbapi.notifies(timeout=0)]
    for payload in payloads:
        handle(payload)
    return bool(payloads)
