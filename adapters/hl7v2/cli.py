"""``fhir-server hl7``: the MLLP listener, the mapping worker, and inbox review.

Configured from the server settings (``FHIR_SERVER_DATABASE_URL``...), like
every other command.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from adapters.hl7v2 import inbox
from adapters.hl7v2.listener import Listener
from adapters.hl7v2.processing import process
from adapters.hl7v2.worker import Worker
from fhir_server.cli_support import server_state
from fhir_server.import_report import ImportReport, strict_option
from fhir_server.tls import ServerTls, TlsFiles, tls_options

__all__ = ["hl7"]


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    stop.wait()


@click.group()
def hl7() -> None:
    """HL7 v2 over MLLP: receive, map to FHIR, review failures."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@hl7.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2575, show_default=True, type=int)
@click.option("--defer-mapping", is_flag=True, help="ACK after the inbox commit; map in workers.")
@click.option("--no-worker", is_flag=True, help="Do not run a mapping worker in this process.")
@click.option(
    "--lease", default=30.0, show_default=True,
    help="Seconds a message being mapped stays claimed; after a crash, its resend waits this long.",
)  # fmt: skip
@click.option(
    "--processes", default=1, show_default=True, type=click.IntRange(1, 64),
    help="Listener processes sharing the port (SO_REUSEPORT), e.g. one per core.",
)  # fmt: skip
@click.option("--reuse-port", is_flag=True, hidden=True, help="Bind with SO_REUSEPORT (set for the extra processes).")
@tls_options
def listen(
    host: str, port: int, defer_mapping: bool, no_worker: bool, lease: float, processes: int, reuse_port: bool,
    tls: ServerTls | None,
) -> None:  # fmt: skip
    """Receive HL7 v2 messages over MLLP on HOST:PORT (0: any free port); over TLS with --certfile and --keyfile."""
    if processes > 1 and port == 0:
        raise click.UsageError("`--processes` above 1 needs a fixed `--port`: the processes share it.")
    state = server_state()
    # FHIR_SERVER_AUTO_RISK=1: vital signs mapped here trigger background re-scoring too.
    from ml.auto_risk import start_from_environment

    start_from_environment(state.sessions)
    listener = Listener(
        state.sessions, host=host, port=port, defer_mapping=defer_mapping, run_worker=not no_worker, lease=lease,
        reuse_port=reuse_port or processes > 1, ssl_context=tls.context if tls else None,
    )  # fmt: skip
    bound = listener.start()
    # The other processes bind the same port once this one holds it; the kernel spreads
    # connections over all of them, so mapping and validation use every core.
    child_tls = tls.files if tls else None
    extra = [_spawn_listener(host, port, defer_mapping, lease, child_tls) for _ in range(processes - 1)]
    database = state.engine.url.render_as_string(hide_password=True)
    click.echo(f"HL7 v2 MLLP listener on {host}:{bound}{' over TLS' if tls else ''} ({database})")
    try:
        _wait_for_signal()
    finally:
        for child in extra:
            child.terminate()
        listener.stop()
        for child in extra:
            child.wait()


def _spawn_listener(
    host: str, port: int, defer_mapping: bool, lease: float, tls: TlsFiles | None
) -> subprocess.Popen[bytes]:
    """One more listener process on the same port, without a mapping worker of its own."""
    command = [sys.executable, "-m", "fhir_server.cli", "hl7", "listen", "--host", host, "--port", str(port)]
    command += ["--lease", str(lease), "--no-worker", "--reuse-port"] + (["--defer-mapping"] if defer_mapping else [])
    if tls is not None:
        # Each process builds its own context from the same files (checked here already).
        command += ["--certfile", str(tls.certfile), "--keyfile", str(tls.keyfile)]
        command += ["--ca-file", str(tls.cafile)] if tls.cafile else []
    return subprocess.Popen(command)


@hl7.command()
@click.option("--once", is_flag=True, help="Process what is pending now, then exit.")
@click.option("--lease", default=60.0, show_default=True, help="Seconds a claim holds.")
@click.option("--batch", default=10, show_default=True)
def worker(once: bool, lease: float, batch: int) -> None:
    """Map pending inbox messages to FHIR; run as many as needed, on any host."""
    state = server_state()
    mapper = Worker(state.sessions, lease=lease, batch=batch)
    if once:
        total = 0
        while count := mapper.run_once():
            total += count
        click.echo(f"Processed {total} messages.")
        return
    thread = threading.Thread(target=mapper.run, name="hl7v2-worker")
    thread.start()
    try:
        _wait_for_signal()
    finally:
        mapper.stop()
        thread.join()


@hl7.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@strict_option
def import_command(files: tuple[Path, ...], strict: bool) -> None:
    """Import HL7 v2 messages from FILES, each processed as `hl7 listen` processes a received one.

    A file holds one message or many: MLLP-framed, or segments on lines (CR, LF or
    CRLF) with each MSH or a blank line starting a message. A message its ACK would
    answer AE or AR is reported with file, message number and line and the ACK's
    error text, and kept in the inbox (`hl7 errors`, `hl7 retry`); the others are
    stored. Importing a file again stores nothing twice. --strict exits 1 if
    anything was skipped.
    """
    from adapters.hl7v2.file_import import import_messages

    state = server_state()
    report = ImportReport(unit="message", stored_unit="message")
    try:
        with tqdm(total=len(files), unit="file", desc="Importing", file=sys.stderr) as progress:

            def advance() -> None:
                progress.update(1)
                progress.set_postfix(messages=report.stored, skipped=report.skipped)

            import_messages(state.sessions, files, report, on_file=advance)
    finally:
        state.engine.dispose()
    report.finish(strict=strict)


@hl7.command()
@click.option("--limit", default=100, show_default=True)
def errors(limit: int) -> None:
    """List messages that were not applied: unmappable, rejected or conflicting."""
    rows = inbox.failed(server_state().sessions, limit)
    if not rows:
        click.echo("No failed messages.")
        return
    for row in rows:
        kind = f"{row.message_type}^{row.trigger_event}"
        where = f" at {row.error_location}" if row.error_location else ""
        click.echo(
            f"#{row.pk} {row.status} {kind} control id `{row.control_id}` from {row.sending_application}"
            f"{where}: {row.error}"
        )


@hl7.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Retry every error and rejected message.")
def retry(ids: tuple[int, ...], retry_all: bool) -> None:
    """Re-process failed messages by inbox id (conflicts only by id), or --all."""
    if bool(ids) == retry_all:
        raise click.UsageError("Give inbox ids or --all, not both and not neither.")
    state = server_state()
    pks = inbox.reset_for_retry(state.sessions, None if retry_all else list(ids))
    missing = sorted(set(ids) - set(pks))
    for pk in missing:
        click.echo(f"Inbox #{pk} does not exist or is not a failed message; skipped.", err=True)
    failures = 0
    for pk in pks:
        for claimed, token in inbox.claim(state.sessions, "cli-retry", lease=60.0, limit=1, pk=pk):
            outcome = process(state.sessions, claimed, token)
            status = outcome.status if outcome else "claimed elsewhere"
            failures += status != inbox.DONE
            click.echo(f"#{claimed} {status}" + (f": {outcome.error}" if outcome and outcome.error else ""))
    click.echo(f"Retried {len(pks)} messages; {failures} still failing.")
    if failures or missing:
        raise SystemExit(1)
