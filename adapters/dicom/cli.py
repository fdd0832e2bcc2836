"""The ``fhir-server dicom`` commands: ``listen`` for a network SCP, ``import`` for files.

Register on the main group with ``main.add_command(dicom)``. Both commands use
the server settings (database) plus the adapter's own
(:mod:`adapters.dicom.settings`); on the embedded SQLite default they migrate
the schema first, as ``serve`` does.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from adapters.dicom.background import BackgroundPublisher
from adapters.dicom.errors import DicomProblem
from adapters.dicom.filestore import FileStore
from adapters.dicom.importer import ImportSummary, import_files, iter_import_files
from adapters.dicom.publisher import Publisher
from adapters.dicom.scp import StorageScp
from adapters.dicom.settings import DicomSettings, load_dicom_settings
from adapters.dicom.store import InstanceStore
from fhir_server.config import ConfigError, load_settings
from fhir_server.import_report import ImportReport, strict_option
from fhir_server.state import ServerState
from fhir_server.tls import ServerTls, tls_options

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["dicom"]


@dataclass(frozen=True, slots=True)
class _Runtime:
    state: ServerState
    settings: DicomSettings
    store: InstanceStore
    publisher: Publisher


def _runtime() -> _Runtime:
    try:
        state = ServerState.from_settings(load_settings())
        settings = load_dicom_settings(state.settings.base_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if state.engine.dialect.name == "sqlite":
        from fhir_server import migrations

        migrations.upgrade(state.engine)
    store = InstanceStore(FileStore(settings.store_dir), state.sessions)
    publisher = Publisher(state.sessions, dicomweb_base_url=settings.dicomweb_base_url)
    return _Runtime(state, settings, store, publisher)


def _check_ae_title(_ctx: click.Context, param: click.Parameter, value: object) -> object:
    titles = value if isinstance(value, tuple) else (value,)
    for title in titles:
        if not 0 < len(str(title).strip()) <= 16 or "\\" in str(title):
            raise click.BadParameter(f"`{title}` is not an AE title (1 to 16 characters, no backslash).", param=param)
    return value


@click.group()
def dicom() -> None:
    """DICOM adapter: receive or import instances and publish them as FHIR ImagingStudy."""


@dicom.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=11112, show_default=True, type=click.IntRange(0, 65535))
@click.option("--ae-title", default="FHIRSRV", show_default=True, callback=_check_ae_title, help="Our AE title.")
@click.option(
    "--allow-calling",
    multiple=True,
    callback=_check_ae_title,
    help="Accept associations only from this calling AE title (repeatable); default: any.",
)
@tls_options
def listen(host: str, port: int, ae_title: str, allow_calling: tuple[str, ...], tls: ServerTls | None) -> None:
    """Run a C-ECHO/C-STORE SCP; stored instances are published to FHIR in the background.

    With --certfile and --keyfile it accepts DICOM over TLS only; with --ca-file too,
    only peers with a client certificate signed by that CA.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runtime = _runtime()
    background = BackgroundPublisher(runtime.publisher, delay=runtime.settings.publish_delay)
    scp = StorageScp(
        runtime.store,
        ae_title=ae_title,
        host=host,
        port=port,
        allowed_calling=allow_calling,
        on_stored=lambda header: background.notify(header.study_instance_uid),
        ssl_context=tls.context if tls else None,
    )
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    background.start()
    try:
        scp.start()
    except OSError as exc:
        background.stop()
        raise click.ClickException(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    bound_host, bound_port = scp.address
    allowed = ", ".join(allow_calling) if allow_calling else "any calling AE title"
    over = (" over TLS, client certificates required" if tls.files.cafile else " over TLS") if tls else ""
    click.echo(
        f"DICOM listener {ae_title} on {bound_host}:{bound_port}{over} ({allowed}); store {runtime.settings.store_dir}"
    )
    while not stop.wait(1.0):
        pass
    click.echo("Stopping: no new associations; publishing what is pending.")
    scp.stop()
    background.stop()
    runtime.state.engine.dispose()


@dicom.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Also read data sets without the 128-byte preamble and DICM prefix.")
@strict_option
def import_command(paths: tuple[Path, ...], force: bool, strict: bool) -> None:
    """Store DICOM files and folders (recursively; DICOMDIR files are skipped), then publish them.

    A file that cannot be read, is not DICOM or is refused by the store is reported
    with its reason and skipped, the others stored; a study that cannot be published
    is reported too. --strict exits 1 if anything was skipped.
    """
    runtime = _runtime()
    files = list(iter_import_files(paths))
    with tqdm(total=len(files), unit="file", desc="Importing", file=sys.stderr) as progress:

        def _advance(summary: ImportSummary) -> None:
            progress.update(1)
            progress.set_postfix(stored=summary.stored, duplicates=summary.duplicates, failed=len(summary.failures))

        summary = import_files(runtime.store, files, force=force, progress=_advance)
    published = runtime.publisher.publish_pending(include_failed=True)
    runtime.state.engine.dispose()
    click.echo(
        f"Stored {summary.stored} instances, {summary.duplicates} duplicates, {len(summary.failures)} failed, "
        f"{summary.skipped} DICOMDIR skipped; published {published.studies} studies "
        f"({published.instances} instances)."
    )
    # Duplicates are stored instances too (the first copy is kept), as is a re-run's input.
    report = ImportReport(unit="file", stored_unit="instance", stored=summary.stored + summary.duplicates)
    report.files = len(files)
    for failure in summary.failures:
        reason = _REASONS[failure.code] if failure.code else "file not readable"
        report.add(failure.path, None, reason, failure.reason)
    for message in published.failures:
        report.add("(publishing)", None, "study not published", message)
    report.finish(strict=strict)


#: Report categories of the rules a refused file broke.
_REASONS = {
    DicomProblem.NOT_DICOM: "not a DICOM file",
    DicomProblem.TRUNCATED: "truncated",
    DicomProblem.MISSING_ATTRIBUTE: "required attribute missing",
    DicomProblem.INVALID_UID: "invalid UID",
    DicomProblem.UNREADABLE: "data set not readable",
}


if __name__ == "__main__":
    dicom()
