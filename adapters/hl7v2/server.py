"""MLLP server: many connections, many messages per connection, each answered in order.

Built on asyncio rather than a thread per connection: HL7 senders tend to
hold connections open for hours while sending little, and an idle connection
costs a coroutine instead of a thread; idle timeouts and a graceful stop are
plain cancellations. The handler may block (a database), so it runs in a
thread pool and the event loop never waits on it.

Per connection, frames are handled strictly one at a time: the socket is not
read while the handler runs, and the next frame is not handled until the
previous ACK has been written (in a single write) and drained. This keeps
messages in order and pushes back on a sender that outpaces storage.

Failures never produce a positive ACK:

* the handler raises: AR with ERR 207 (original mode; AR because the failure
  is ours, e.g. the database is down, so the sender may resend as is), or CE
  (enhanced mode, if MSH-15 asks); when the message has no readable MSH no ACK
  can be addressed, so the connection is closed and the sender will resend;
* a message over ``max_message_size``: AE (CE) with ERR 207, built from the
  head of the frame, since resending it unchanged cannot succeed; the
  connection is closed if the head holds no readable MSH;
* an ACK (or an original-mode response) is never answered, even if the
  handler returns bytes.

With an ``ssl_context`` every connection is TLS (asyncio does the handshake,
without blocking the loop); a peer whose handshake fails, a plaintext sender
for one, is dropped before it reaches the handler and costs the others nothing.

:meth:`MllpServer.start` / :meth:`MllpServer.stop` run the server on its own
event loop thread (for tests and synchronous apps); ``start_async`` /
``stop_async`` run it on the caller's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import TYPE_CHECKING

from adapters.hl7v2._connection import Connection, Settings, peer_name
from adapters.hl7v2.framing import DEFAULT_MAX_MESSAGE_SIZE

if TYPE_CHECKING:
    import ssl
    from types import TracebackType

    from adapters.hl7v2.handler import Handler

__all__ = ["MllpServer"]

logger = logging.getLogger(__name__)

#: Seconds a TLS peer has to finish its handshake; one that connects and stays silent is dropped then.
_TLS_HANDSHAKE_TIMEOUT = 10.0


class MllpServer:
    """An MLLP listener that hands each message to ``handler`` and sends back its ACK.

    :param handler: ``handler(message, peer) -> ack``, run in a thread pool;
        ``b""`` means send nothing.
    :param host: the address to bind; loopback unless told otherwise.
    :param port: the port to bind; 0 picks a free one (see :meth:`start`).
    :param max_message_size: the largest payload accepted, in bytes.
    :param idle_timeout: seconds without data before a connection is closed;
        ``None`` never closes.
    :param write_timeout: seconds to wait for a peer to take an ACK.
    :param max_connections: connections beyond this are closed on accept.
    :param max_workers: handler threads (the executor's default if ``None``).
    :param reuse_port: bind with ``SO_REUSEPORT`` so several processes share the
        port and the kernel spreads connections over them.
    :param ssl_context: serve MLLP over TLS with this server context, built once
        and shared by every connection (see :func:`fhir_server.tls.server_context`).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 2575,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        idle_timeout: float | None = 300.0,
        write_timeout: float = 30.0,
        max_connections: int | None = None,
        max_workers: int | None = None,
        reuse_port: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_message_size <= 0:
            raise ValueError(f"The maximum message size must be positive, not `{max_message_size}`.")
        self._handler = handler
        self._host, self._port = host, port
        self._max_message_size = max_message_size
        self._idle_timeout, self._write_timeout = idle_timeout, write_timeout
        self._max_connections, self._max_workers = max_connections, max_workers
        self._reuse_port = reuse_port
        self._ssl_context = ssl_context
        self._server: asyncio.Server | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._connections: dict[Connection, asyncio.Task[None]] = {}
        self._stopping = False
        self._bound_port: int | None = None
        # Set only while running on the server's own thread (start/stop).
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._grace = 5.0

    @property
    def port(self) -> int | None:
        """The bound port while serving, else ``None``."""
        return self._bound_port

    async def start_async(self) -> int:
        """Start listening on the running event loop and return the bound port."""
        if self._server is not None:
            raise RuntimeError("The MLLP server is already running.")
        self._stopping = False
        # asyncio refuses a handshake timeout without TLS.
        handshake_timeout = _TLS_HANDSHAKE_TIMEOUT if self._ssl_context else None
        self._server = await asyncio.start_server(
            self._on_connect, self._host, self._port, reuse_port=self._reuse_port or None,
            ssl=self._ssl_context, ssl_handshake_timeout=handshake_timeout,
        )  # fmt: skip
        self._executor = concurrent.futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="mllp-handler")
        self._bound_port = self._server.sockets[0].getsockname()[1]
        over = " over TLS" if self._ssl_context else ""
        logger.info("MLLP server listening on %s%s.", peer_name((self._host, self._bound_port)), over)
        return self._bound_port

    async def stop_async(self, grace: float = 5.0) -> None:
        """Stop: refuse new connections, finish ACKs in progress, close the rest.

        :param grace: seconds to let busy connections write their ACK.
        """
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping = True
        server.close()
        for connection, task in list(self._connections.items()):
            if not connection.busy:  # idle in a read: nothing to lose
                task.cancel()
        tasks = set(self._connections.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await server.wait_closed()
        if self._executor is not None:
            # A handler stuck past the grace period keeps its thread; its
            # message gets no ACK and will be resent.
            self._executor.shutdown(wait=False, cancel_futures=True)
        logger.info("MLLP server on port %s stopped.", self._bound_port)
        self._bound_port = None

    def start(self) -> int:
        """Run the server on a background event loop thread; return the bound port.

        :raises OSError: the address cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("The MLLP server is already running.")
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(started),), name="mllp-server", daemon=True)
        self._thread.start()
        try:
            return started.result()
        except BaseException:
            self._thread.join()
            self._thread = None
            raise

    def stop(self, grace: float = 5.0) -> None:
        """Stop a server started with :meth:`start` and wait for its thread.

        :param grace: seconds to let busy connections write their ACK.
        """
        thread, loop, event = self._thread, self._loop, self._stop_requested
        if thread is None or loop is None or event is None:
            return
        self._grace = grace
        loop.call_soon_threadsafe(event.set)
        thread.join()
        self._thread = self._loop = self._stop_requested = None

    def __enter__(self) -> MllpServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def _run(self, started: concurrent.futures.Future[int]) -> None:
        """Body of the background thread: serve until :meth:`stop` is called."""
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        try:
            port = await self.start_async()
        except BaseException as exc:  # noqa: BLE001 - not swallowed: re-raised by the thread waiting on `started`
            self._loop = self._stop_requested = None
            started.set_exception(exc)
            return
        started.set_result(port)
        await self._stop_requested.wait()
        await self.stop_async(self._grace)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one accepted connection, unless stopping or full."""
        full = self._max_connections is not None and len(self._connections) >= self._max_connections
        if self._stopping or full or self._executor is None:
            peer = peer_name(writer.get_extra_info("peername"))
            logger.warning("Refused an MLLP connection from %s: server stopping or full.", peer)
            writer.transport.abort()
            return
        settings = Settings(
            handler=self._handler,
            executor=self._executor,
            max_message_size=self._max_message_size,
            idle_timeout=self._idle_timeout,
            write_timeout=self._write_timeout,
            stopping=lambda: self._stopping,
        )
        connection = Connection(settings, reader, writer)
        task = asyncio.current_task()
        assert task is not None  # start_server runs each callback in a task
        self._connections[connection] = task
        try:
            await connection.serve()
        finally:
            del self._connections[connection]
