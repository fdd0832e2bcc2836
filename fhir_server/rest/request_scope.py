"""One session and one repository per request, committed only by writing views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, g

from fhir_server.auth.bearer import Unauthorized, authenticate, unauthorized_response
from fhir_server.auth.policy import SmartPolicy
from fhir_server.repository import RequestContext, SqlRepository
from fhir_server.state import EXTENSION_KEY, ServerState


def server_state() -> ServerState:
    """The app's :class:`ServerState`."""
    state: ServerState = current_app.extensions[EXTENSION_KEY]
    return state


def repository() -> SqlRepository:
    """The request's repository, opening its session on first use."""
    repo: SqlRepository | None = g.get("fhir_repository")
    if repo is None:
        state = server_state()
        context: RequestContext = g.get("request_context") or RequestContext(actor="rest")
        repo = SqlRepository(state.sessions(), context)
        if state.auth is not None:
            # The token's scopes and launch context, enforced by the repository on every interaction.
            repo.access = SmartPolicy.for_context(context, repo.registry)
        g.fhir_repository = repo
    return repo


def transactional(view: Callable[..., Any]) -> Callable[..., Any]:
    """Commit the request's session after ``view`` succeeds, before the response is sent.

    Committing inside the view (not in ``after_request``) means a failed commit is
    reported as an OperationOutcome like any other error.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        response = view(*args, **kwargs)
        repo: SqlRepository | None = g.get("fhir_repository")
        if repo is not None:
            repo.session.commit()
        return response

    return wrapper


def release_session() -> None:
    """Close the request's session now (rolling back anything not committed); later use opens a new one."""
    repo: SqlRepository | None = g.pop("fhir_repository", None)
    if repo is not None:
        repo.session.close()


def _close_session(_exc: BaseException | None) -> None:
    release_session()


def _negotiate() -> None:
    # Refuse an unservable Accept/_format before any work is done, e.g. before a create is stored.
    from fhir_server.rest.http import media_type

    media_type()


def register_request_scope(blueprint: Blueprint) -> None:
    """Authenticate, then negotiate the response format; close (rolling back if uncommitted) the session at teardown."""
    blueprint.before_request(authenticate)
    blueprint.register_error_handler(Unauthorized, unauthorized_response)
    blueprint.before_request(_negotiate)
    blueprint.teardown_request(_close_session)
