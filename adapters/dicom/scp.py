"""The DICOM listener: a Verification (C-ECHO) and Storage (C-STORE) SCP on pynetdicom.

Every storage SOP class pynetdicom knows (CT, MR, CR, DX, US, MG, NM, PT, SC,
enhanced and multi-frame ones...) is accepted in every transfer syntax pydicom
knows, compressed ones included: the bytes are stored as received and Pixel
Data is never decoded, so no codec is needed.

C-STORE response statuses (PS3.4 Annex B.2.3), with a whole-sentence Error
Comment (0000,0902) cut to the 64 characters its LO VR allows:

``0x0000`` Success
    the instance is stored and committed, or was stored before (a duplicate).
``0xA900`` Error: Data Set does not match SOP Class
    a required UID is missing or malformed, or the data set's SOP Instance UID
    differs from the request's; the input is quarantined.
``0xC000`` Error: Cannot understand
    the data set cannot be decoded or is truncated; the input is quarantined.
``0xA700`` Refused: Out of Resources
    our disk or database failed; nothing is quarantined, the sender should retry.

With an ``ssl_context`` (:func:`fhir_server.tls.server_context`) pynetdicom wraps
every accepted socket (DICOM PS3.15 Annex B secure transport); a peer that does not
speak TLS fails its handshake and gets no association.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.uid import AllTransferSyntaxes
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from adapters.dicom.audit import C_STORE, Origin
from adapters.dicom.errors import DicomProblem, InvalidDicomError
from fhir_server.audit.activity import Requestor

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Sequence

    from pynetdicom.events import Event
    from pynetdicom.transport import ThreadedAssociationServer

    from adapters.dicom.headers import InstanceHeader
    from adapters.dicom.store import InstanceStore

__all__ = ["STATUS_CANNOT_UNDERSTAND", "STATUS_DOES_NOT_MATCH", "STATUS_OUT_OF_RESOURCES", "StorageScp"]

logger = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_DOES_NOT_MATCH = 0xA900
STATUS_CANNOT_UNDERSTAND = 0xC000
_MATCH_PROBLEMS = {DicomProblem.MISSING_ATTRIBUTE, DicomProblem.INVALID_UID}
_COMMENT_LENGTH = 64


class StorageScp:
    """Accepts associations and stores each received instance through an :class:`InstanceStore`.

    :param store: where instances go.
    :param ae_title: our AE title; associations calling another one are rejected.
    :param host: the address to bind.
    :param port: the port to bind; 0 picks a free one (see :attr:`address`).
    :param allowed_calling: calling AE titles accepted; empty accepts any.
    :param on_stored: called with the header of each newly stored instance,
        on the association's thread, after the commit; it must not block.
    :param max_associations: concurrent associations accepted.
    :param ssl_context: accept TLS connections only, with this server context.
    """

    def __init__(
        self,
        store: InstanceStore,
        *,
        ae_title: str = "FHIRSRV",
        host: str = "0.0.0.0",
        port: int = 11112,
        allowed_calling: Sequence[str] = (),
        on_stored: Callable[[InstanceHeader], None] | None = None,
        max_associations: int = 10,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.store = store
        self.host = host
        self.port = port
        self.on_stored = on_stored
        self.ae = AE(ae_title=ae_title)
        self.ae.maximum_associations = max_associations
        self.ae.require_called_aet = True
        self.ae.require_calling_aet = list(allowed_calling)
        self.ae.add_supported_context(Verification)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is None:  # pynetdicom's storage contexts all name their SOP class
                raise RuntimeError(f"pynetdicom's storage context {context} names no SOP class.")
            self.ae.add_supported_context(context.abstract_syntax, list(AllTransferSyntaxes))
        self._ssl_context = ssl_context
        self._server: ThreadedAssociationServer | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Return the bound host and port (the real port when 0 was asked for)."""
        if self._server is None:
            raise RuntimeError("The DICOM listener is not running.")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start accepting associations on background threads."""
        if self._server is not None:
            raise RuntimeError("The DICOM listener is already running.")
        self._server = self.ae.start_server(
            (self.host, self.port), block=False, ssl_context=self._ssl_context,
            evt_handlers=[(evt.EVT_C_STORE, self._handle_store)],
        )  # fmt: skip

    def stop(self) -> None:
        """Stop accepting associations and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _handle_store(self, event: Event) -> Dataset | int:
        calling = event.assoc.requestor.ae_title.strip()
        request = event.request
        expected = str(getattr(request, "AffectedSOPInstanceUID", "") or "") or None
        origin = Origin(Requestor(calling, address=event.assoc.requestor.address), C_STORE)
        try:
            receipt = self.store.receive(
                event.encoded_dataset(include_meta=True), source=f"dicom:{calling}",
                expected_sop_instance_uid=expected, origin=origin,
            )  # fmt: skip
        except InvalidDicomError as exc:
            status = STATUS_DOES_NOT_MATCH if exc.code in _MATCH_PROBLEMS else STATUS_CANNOT_UNDERSTAND
            logger.warning("Refused instance `%s` from %s: %s", expected, calling, exc.reason)
            return _status(status, exc.reason)
        except Exception:
            logger.exception("Storing instance `%s` from %s failed.", expected, calling)
            return _status(STATUS_OUT_OF_RESOURCES, "The instance could not be stored; try again.")
        if not receipt.duplicate and self.on_stored is not None:
            self.on_stored(receipt.header)
        return STATUS_SUCCESS


def _status(code: int, comment: str) -> Dataset:
    response = Dataset()
    response.Status = code
    response.ErrorComment = comment if len(comment) <= _COMMENT_LENGTH else comment[: _COMMENT_LENGTH - 3] + "..."
    return response
