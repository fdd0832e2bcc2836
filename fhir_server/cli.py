"""The ``fhir-server`` command line: serve, migrate and load."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from fhir_server.cli_support import server_state
from fhir_server.import_report import ImportReport, strict_option
from fhir_server.loader import LoadError, iter_files
from fhir_server.tls import ServerTls, tls_options


@click.group()
def main() -> None:
    """FHIR R4 server: REST API, HL7 v2 and DICOM adapters, risk scoring."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=0, type=int, help="Run gunicorn with N worker processes (production).")
@tls_options
def serve(host: str, port: int, workers: int, tls: ServerTls | None) -> None:
    """Serve the FHIR API at http://HOST:PORT/fhir, or https:// with --certfile and --keyfile."""
    from fhir_server import migrations
    from fhir_server.app import create_app

    state = server_state()
    if state.engine.dialect.name == "sqlite":
        # The embedded default must work with no set-up step; PostgreSQL is migrated by `db upgrade`.
        migrations.upgrade(state.engine)
    state.engine.dispose()
    scheme = "https" if tls else "http"
    click.echo(f"FHIR server on {scheme}://{host}:{port}/fhir ({state.settings.database_url})")
    if workers:
        from fhir_server.gunicorn_app import run_gunicorn

        # gunicorn builds its own context from the files (checked above, so its workers cannot fail on them).
        run_gunicorn(host, port, workers, tls.files if tls else None)
    else:
        from fhir_server.state import EXTENSION_KEY
        from fhir_server.warmup import prepare_process

        app = create_app()
        prepare_process(app.extensions[EXTENSION_KEY].engine)
        app.run(host=host, port=port, threaded=True, ssl_context=tls.context if tls else None)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command()
def upgrade() -> None:
    """Create or migrate the schema to the latest version."""
    from fhir_server import migrations

    state = server_state()
    try:
        migrations.upgrade(state.engine)
    finally:
        state.engine.dispose()
    click.echo(f"Database at {state.engine.url.render_as_string(hide_password=True)} is up to date.")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--jobs", type=int, default=None, help="Processes to load with (default: cores on PostgreSQL, 1 on SQLite)."
)
@strict_option
def load(paths: tuple[Path, ...], jobs: int | None, strict: bool) -> None:
    """Store FHIR resources from JSON files, Bundles, NDJSON files or folders of them.

    Transaction and batch Bundles are processed as `POST [base]` processes them; each
    transaction is atomic. A line, entry or file that cannot be parsed or fails
    validation is skipped, the rest stored; the summary on stderr names each reason
    with its first file and line or entry; --strict exits 1 if anything was skipped.
    """
    from fhir_server.bulk_load import FileResult, default_jobs, load_files

    settings = server_state().settings
    try:
        files = list(iter_files(list(paths)))
    except LoadError as exc:
        raise click.ClickException(str(exc)) from exc
    report, started = ImportReport(unit="item", files=len(files)), time.monotonic()
    with tqdm(total=len(files), unit="file", desc="Loading", file=sys.stderr) as progress:

        def done(result: FileResult) -> None:
            report.stored += result.stored
            for problem in result.failures:
                report.add_problem(problem)
            report.absorb_notes(result.notes)
            progress.update(1)
            progress.set_postfix(resources=report.stored, skipped=report.skipped)

        load_files(files, jobs or default_jobs(settings.database_url), done)
    elapsed = max(time.monotonic() - started, 1e-9)
    click.echo(
        f"Stored {report.stored} resources from {len(files)} files in {elapsed:.1f} s "
        f"({report.stored / elapsed:.0f} resources/s)."
    )
    report.finish(strict=strict)


@main.command()
@click.argument("resource_type", required=False)
def reindex(resource_type: str | None) -> None:
    """Rebuild the search index of every resource (or of RESOURCE_TYPE), e.g. after adding a SearchParameter."""
    from fhir_server.db import unit_of_work
    from fhir_server.errors import FhirError
    from fhir_server.repository import RequestContext, SqlRepository, check_resource_type
    from fhir_server.repository.reindex import count_resources, reindex_batch

    state = server_state()
    if resource_type:
        try:
            check_resource_type(resource_type)
        except FhirError as exc:
            raise click.ClickException(exc.diagnostics) from exc
    with unit_of_work(state.sessions, write=False) as session:
        total = count_resources(SqlRepository(session), resource_type)
    after, done = 0, 0
    with tqdm(total=total, unit="resource", desc="Reindexing", file=sys.stderr) as progress:
        while True:
            with unit_of_work(state.sessions) as session:
                batch = reindex_batch(SqlRepository(session, RequestContext(actor="cli-reindex")), resource_type, after)
            if batch.last_pk is None:
                break
            after, done = batch.last_pk, done + batch.count
            progress.update(batch.count)
    click.echo(f"Reindexed {done} resources{f' of type {resource_type}' if resource_type else ''}.")


def _register_adapters() -> None:
    # Each adapter (and the ML module) owns its command group; the main CLI only mounts them.
    from adapters.dicom.cli import dicom
    from adapters.hl7v2.cli import hl7
    from fhir_server.audit.cli import audit
    from fhir_server.auth.cli import auth
    from ml.cli import ml

    main.add_command(audit)
    main.add_command(auth)
    main.add_command(dicom)
    main.add_command(hl7)
    main.add_command(ml)


_register_adapters()

if __name__ == "__main__":
    main()
