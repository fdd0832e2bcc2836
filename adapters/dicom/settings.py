"""Settings of the DICOM adapter, read from ``FHIR_SERVER_DICOM_*`` environment variables.

They sit beside the server settings (:func:`fhir_server.config.load_settings`)
rather than in them, so the adapter can be configured without touching the core:

========================================  ==========================================
``FHIR_SERVER_DICOM_STORE_DIR``           file store directory, default ``./var/dicom``
``FHIR_SERVER_DICOMWEB_BASE_URL``         DICOMweb base in Endpoint resources; default:
                                          the FHIR base with ``/fhir`` replaced by
                                          ``/dicomweb``, else ``http://localhost:8080/dicomweb``
``FHIR_SERVER_DICOM_PUBLISH_DELAY``       seconds the listener gathers instances
                                          before publishing, default ``0.5``
========================================  ==========================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fhir_server.config import ENV_PREFIX, ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DicomSettings", "load_dicom_settings"]

DEFAULT_STORE_DIR = Path("var/dicom")
#: Where ``make run`` serves, used when nothing better is known.
DEFAULT_DICOMWEB_BASE_URL = "http://localhost:8080/dicomweb"
STORE_DIR_ENV = ENV_PREFIX + "DICOM_STORE_DIR"
DICOMWEB_BASE_URL_ENV = ENV_PREFIX + "DICOMWEB_BASE_URL"
PUBLISH_DELAY_ENV = ENV_PREFIX + "DICOM_PUBLISH_DELAY"


@dataclass(frozen=True, slots=True)
class DicomSettings:
    """Validated settings of the DICOM adapter."""

    #: Root of the content-addressed file store (and its ``quarantine/``).
    store_dir: Path
    #: Public DICOMweb base URL, the ``address`` of the published Endpoint.
    dicomweb_base_url: str
    #: Seconds the background publisher waits after an instance arrives, so that
    #: a study sent in one burst is published once rather than once per instance.
    publish_delay: float


def load_dicom_settings(fhir_base_url: str | None = None, environ: Mapping[str, str] | None = None) -> DicomSettings:
    """Read the adapter settings from the environment.

    :param fhir_base_url: the server's public FHIR base (``Settings.base_url``),
        from which the DICOMweb base is derived when not configured.
    :param environ: the environment to read; ``os.environ`` by default.
    :raises ConfigError: naming the variable whose value is invalid.
    """
    environ = os.environ if environ is None else environ
    store_dir = Path(environ.get(STORE_DIR_ENV) or DEFAULT_STORE_DIR)
    base = environ.get(DICOMWEB_BASE_URL_ENV) or _derived_base(fhir_base_url)
    if not base.startswith(("http://", "https://")):
        raise ConfigError(f"Invalid configuration: {DICOMWEB_BASE_URL_ENV}: `{base}` is not an http(s) URL.")
    raw_delay = environ.get(PUBLISH_DELAY_ENV, "0.5")
    try:
        delay = float(raw_delay)
    except ValueError:
        delay = -1.0
    if not 0 <= delay <= 60:
        raise ConfigError(
            f"Invalid configuration: {PUBLISH_DELAY_ENV}: `{raw_delay}` is not a number of seconds from 0 to 60."
        )
    return DicomSettings(store_dir=store_dir, dicomweb_base_url=base.rstrip("/"), publish_delay=delay)


def _derived_base(fhir_base_url: str | None) -> str:
    if not fhir_base_url:
        return DEFAULT_DICOMWEB_BASE_URL
    trimmed = fhir_base_url.rstrip("/")
    # The FHIR API lives under /fhir and the blueprint under /dicomweb of the same app.
    root = trimmed[: -len("/fhir")] if trimmed.endswith("/fhir") else trimmed
    return root + "/dicomweb"
