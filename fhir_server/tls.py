"""TLS for every network listener: one ``ssl.SSLContext`` from certificate, key and CA files.

``serve``, ``hl7 listen`` and ``dicom listen`` take the same options (:func:`tls_options`):
``--certfile`` and ``--keyfile`` switch TLS on, ``--ca-file`` also requires client
certificates signed by that CA. The files are loaded once, at start, so a wrong file
stops the command with a message naming its option and path instead of failing
every connection later. No cryptography of our own: Python's ``ssl`` module does it all.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

__all__ = ["ServerTls", "TlsError", "TlsFiles", "server_context", "tls_options"]


class TlsError(ValueError):
    """A certificate, key or CA file cannot be used; the message names the option and the file."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The PEM files of a TLS listener."""

    certfile: Path
    keyfile: Path
    #: CA certificates that client certificates must chain to; ``None``: no client certificates asked for.
    cafile: Path | None = None


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The files (for servers that load them themselves, like gunicorn) and the context built from them."""

    files: TlsFiles
    context: ssl.SSLContext


class _HandshakeOnFirstRead(ssl.SSLContext):
    """A server context whose sockets do the TLS handshake on their first read, not in ``accept()``.

    Werkzeug's development server and pynetdicom wrap accepted sockets on the thread
    that accepts; with the default eager handshake one client that connects and sends
    nothing (or a slow one) would hold up every other connection. Deferred, the
    handshake runs on the connection's own thread, and a failed one ends only that
    connection. Contexts used through ``wrap_bio`` (asyncio) are not affected.
    """

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )


class _EncryptedKey(Exception):
    """Raised by the passphrase callback: a server started unattended cannot ask for one."""


def _refuse_passphrase() -> str:
    raise _EncryptedKey


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """Build the server-side context for ``files``: TLS 1.2 or later, client certificates required with a CA file.

    :raises TlsError: a file is missing or unreadable, holds no PEM certificate or key,
        the key is encrypted, or the key does not belong to the certificate.
    """
    context = _HandshakeOnFirstRead(ssl.PROTOCOL_TLS_SERVER)
    # BCP 195 (and DICOM's TLS profiles) rule out anything older.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain reports a bad certificate and a bad key alike ("PEM lib"); reading
    # the certificate file on its own first tells which of the two files is wrong.
    _load_certificates(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), "--certfile", files.certfile)
    try:
        context.load_cert_chain(files.certfile, files.keyfile, password=_refuse_passphrase)
    except _EncryptedKey:
        raise TlsError(
            f"`--keyfile` {files.keyfile} is encrypted; give an unencrypted key (a listener cannot ask for a passphrase)."
        ) from None
    except OSError as exc:
        raise TlsError(_key_problem(files, exc)) from exc
    if files.cafile is not None:
        _load_certificates(context, "--ca-file", files.cafile)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _load_certificates(context: ssl.SSLContext, option: str, path: Path) -> None:
    """Load the PEM certificates of ``path`` as trusted by ``context``, naming ``option`` when that fails."""
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise TlsError(f"`{option}` {path} holds no PEM certificate.") from exc
    except OSError as exc:
        raise TlsError(f"`{option}` {path} cannot be read: {exc.strerror or exc}.") from exc


def _key_problem(files: TlsFiles, exc: OSError) -> str:
    """Say what is wrong with the key file, given the certificate file was read."""
    if isinstance(exc, ssl.SSLError) and exc.reason == "KEY_VALUES_MISMATCH":
        return f"`--keyfile` {files.keyfile} is not the key of the certificate in `--certfile` {files.certfile}."
    if isinstance(exc, ssl.SSLError):
        return f"`--keyfile` {files.keyfile} holds no PEM private key."
    return f"`--keyfile` {files.keyfile} cannot be read: {exc.strerror or exc}."


def tls_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a click command ``--certfile``, ``--keyfile`` and ``--ca-file``, passed to it as ``tls``.

    ``tls`` is a :class:`ServerTls` (the files checked and loaded) or ``None`` without
    the options. Only one of ``--certfile`` and ``--keyfile``, or ``--ca-file`` alone,
    is a usage error; a file that does not load fails the command with its name.
    """

    @functools.wraps(command)
    def with_tls(*args: Any, certfile: Path | None, keyfile: Path | None, ca_file: Path | None, **kwargs: Any) -> None:
        return command(*args, tls=_server_tls(certfile, keyfile, ca_file), **kwargs)

    path = click.Path(dir_okay=False, path_type=Path)
    options = [
        click.option("--certfile", type=path, help="PEM certificate (chain) of this server: serve over TLS."),
        click.option("--keyfile", type=path, help="PEM private key of --certfile (unencrypted)."),
        click.option("--ca-file", type=path, help="PEM CA certificates: require client certificates they signed."),
    ]
    return functools.reduce(lambda decorated, option: option(decorated), reversed(options), with_tls)


def _server_tls(certfile: Path | None, keyfile: Path | None, cafile: Path | None) -> ServerTls | None:
    if certfile is None and keyfile is None:
        if cafile is not None:
            raise click.UsageError(
                "`--ca-file` checks the clients of a TLS listener: give `--certfile` and `--keyfile` too."
            )
        return None
    if certfile is None or keyfile is None:
        given, missing = ("--certfile", "--keyfile") if keyfile is None else ("--keyfile", "--certfile")
        raise click.UsageError(f"`{given}` needs `{missing}` too: TLS takes both the certificate and its key.")
    files = TlsFiles(certfile, keyfile, cafile)
    try:
        return ServerTls(files, server_context(files))
    except TlsError as exc:
        raise click.ClickException(str(exc)) from exc
