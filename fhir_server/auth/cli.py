"""``fhir-server auth ...``: register clients and users, mint development tokens, rotate keys,
issue initial access tokens for dynamic client registration."""

from __future__ import annotations

import os
from pathlib import Path

import click
from sqlalchemy.orm import Session, sessionmaker

from fhir_server.auth.authorize import create_launch
from fhir_server.auth.clients import (
    ClientSpec,
    RegistrationError,
    add_client,
    add_user,
    find_client,
    list_clients,
    list_users,
    remove_client,
    remove_user,
)
from fhir_server.auth.keys import rotate
from fhir_server.auth.registration import DEFAULT_CEILING, INITIAL_TOKEN_LIFETIME, issue_initial_token
from fhir_server.auth.scopes import InvalidScope, narrow
from fhir_server.auth.service import AuthService
from fhir_server.cli_support import server_state
from fhir_server.db import unit_of_work


def _auth_state() -> tuple[AuthService, sessionmaker[Session]]:
    state = server_state()
    if state.auth is None:
        raise click.ClickException("FHIR_SERVER_AUTH is off: there is no authorization server to configure.")
    return state.auth, state.sessions


@click.group()
def auth() -> None:
    """SMART on FHIR authorization: clients, users, tokens and signing keys."""


@auth.group()
def client() -> None:
    """Registered apps and backend services."""


@client.command("add")
@click.option("--client-id", required=True)
@click.option("--scope", required=True, help='The most the client may be granted, e.g. "system/*.rs".')
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI (repeatable).")
@click.option("--public", is_flag=True, help="A public client (no secret; PKCE only).")
@click.option("--secret", help="A confidential client's shared secret (stored as an argon2 hash).")
@click.option(
    "--jwks-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Public keys (JWK Set)."
)
@click.option("--jwks-url", help="Where the client publishes its JWK Set.")
def client_add(
    client_id: str,
    scope: str,
    redirect_uris: tuple[str, ...],
    public: bool,
    secret: str | None,
    jwks_file: Path | None,
    jwks_url: str | None,
) -> None:
    """Register a client."""
    if public and (secret or jwks_file or jwks_url):
        raise click.UsageError("--public takes no --secret, --jwks-file or --jwks-url.")
    if not public and not (secret or jwks_file or jwks_url):
        raise click.UsageError("Give one of --public, --secret, --jwks-file or --jwks-url.")
    jwks = jwks_file.read_text() if jwks_file else None
    spec = ClientSpec(client_id, scope, redirect_uris, secret, jwks, jwks_url)
    _, sessions = _auth_state()
    try:
        with unit_of_work(sessions) as session:
            row = add_client(session, spec)
    except (RegistrationError, InvalidScope) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Registered client `{row.client_id}` ({row.auth_method}) with scope `{row.scope}`.")


@client.command("list")
def client_list() -> None:
    """List the registered clients."""
    _, sessions = _auth_state()
    with unit_of_work(sessions, write=False) as session:
        for row in list_clients(session):
            click.echo(f"{row.client_id}\t{row.auth_method}\t{row.scope}\t{row.redirect_uris}")


@client.command("remove")
@click.argument("client_id")
def client_remove(client_id: str) -> None:
    """Remove a client; its tokens stop working when they expire."""
    _, sessions = _auth_state()
    with unit_of_work(sessions) as session:
        if not remove_client(session, client_id):
            raise click.ClickException(f"No client `{client_id}` is registered.")
    click.echo(f"Removed client `{client_id}`.")


@auth.group()
def user() -> None:
    """People who sign in to SMART apps."""


@user.command("add")
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--fhir-user", help="The FHIR resource the user is: Practitioner/ID, Patient/ID or RelatedPerson/ID.")
def user_add(username: str, password: str, fhir_user: str | None) -> None:
    """Register a user (the password is stored as an argon2 hash)."""
    _, sessions = _auth_state()
    try:
        with unit_of_work(sessions) as session:
            add_user(session, username, password, fhir_user)
    except RegistrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Registered user `{username}`" + (f" as {fhir_user}." if fhir_user else "."))


@user.command("list")
def user_list() -> None:
    """List the registered users."""
    _, sessions = _auth_state()
    with unit_of_work(sessions, write=False) as session:
        for row in list_users(session):
            click.echo(f"{row.username}\t{row.fhir_user or '-'}")


@user.command("remove")
@click.argument("username")
def user_remove(username: str) -> None:
    """Remove a user."""
    _, sessions = _auth_state()
    with unit_of_work(sessions) as session:
        if not remove_user(session, username):
            raise click.ClickException(f"No user `{username}` is registered.")
    click.echo(f"Removed user `{username}`.")


@auth.command("token")
@click.option("--client-id", required=True, help="A registered client; the token gets at most its scopes.")
@click.option("--scope", required=True)
@click.option("--patient", help="Patient id in context (for patient/ scopes).")
@click.option("--fhir-user", help="The user the token acts for, e.g. Practitioner/1.")
@click.option(
    "--audience",
    default=lambda: os.environ.get("FHIR_SERVER_BASE_URL", "http://localhost:8080/fhir"),
    help="The FHIR base URL the token is for (default: FHIR_SERVER_BASE_URL or http://localhost:8080/fhir).",
)
def token(client_id: str, scope: str, patient: str | None, fhir_user: str | None, audience: str) -> None:
    """Mint an access token for development and scripts, printed on standard output."""
    auth_service, sessions = _auth_state()
    with unit_of_work(sessions, write=False) as session:
        row = find_client(session, client_id)
        if row is None:
            raise click.ClickException(f"No client `{client_id}` is registered (see `fhir-server auth client add`).")
        allowed = row.scope
    try:
        granted = narrow(scope, allowed)
    except InvalidScope as exc:
        raise click.ClickException(str(exc)) from exc
    if not granted:
        raise click.ClickException(f"None of `{scope}` is within client `{client_id}`'s scopes `{allowed}`.")
    audience = audience.rstrip("/")
    value, _ = auth_service.tokens.mint(
        issuer=audience,
        audience=audience,
        client_id=client_id,
        subject=fhir_user or client_id,
        scope=granted,
        patient=patient,
        fhir_user=fhir_user,
    )
    click.echo(value)


@auth.command("launch")
@click.option("--patient", required=True, help="The patient id the app is launched for.")
@click.option("--encounter", help="The encounter id in context, if any.")
def launch(patient: str, encounter: str | None) -> None:
    """Create an EHR launch context; prints the `launch` value to pass to the app (valid one hour)."""
    _, sessions = _auth_state()
    with unit_of_work(sessions) as session:
        value = create_launch(session, patient, encounter)
    click.echo(value)


@auth.command("rotate-keys")
def rotate_keys() -> None:
    """Sign new tokens with a new key; tokens signed before stay valid until they expire."""
    auth_service, sessions = _auth_state()
    with unit_of_work(sessions) as session:
        kid = rotate(session, keep_for=auth_service.tokens.keys.keep_retired_for)
    click.echo(f"New signing key `{kid}`; the previous keys verify until their tokens expire.")


@auth.command("registration-token")
@click.option(
    "--scope",
    default=DEFAULT_CEILING,
    show_default=True,
    help="The most a client registered with this token may be granted (system/ scopes only if named here).",
)
@click.option(
    "--expires-in",
    type=click.IntRange(min=1),
    default=INITIAL_TOKEN_LIFETIME,
    show_default=True,
    help="Seconds the token registers clients for.",
)
def registration_token(scope: str, expires_in: int) -> None:
    """Issue an initial access token for dynamic client registration (POST /auth/register).

    The token is printed once on standard output and stored only as a SHA-256 hash;
    it registers clients, each within the scope ceiling, until it expires.
    """
    _, sessions = _auth_state()
    try:
        with unit_of_work(sessions) as session:
            value, row = issue_initial_token(session, scope, expires_in)
    except ValueError as exc:  # InvalidScope too
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Initial access token for POST /auth/register, scope ceiling `{row.scope}`, "
        f"valid until {row.expires.isoformat(timespec='seconds')} (shown only now):",
        err=True,
    )
    click.echo(value)
