"""A SMART token for a benchmark: a backend client with every system/ scope, and a token for it.

The server's default is ``FHIR_SERVER_AUTH=smart``, so a benchmark that talks HTTP sends a token,
as a real client would; ``--auth off`` runs the open server for comparison.
"""

from __future__ import annotations

import subprocess

SCOPE = "system/*.cruds"


def mint_dev_token(cli: list[str], env: dict[str, str], port: int) -> str:
    """Register the client ``bench`` on the server's database and print a token for ``http://127.0.0.1:PORT/fhir``."""
    subprocess.run(
        [*cli, "auth", "client", "add", "--client-id", "bench", "--secret", "bench-secret", "--scope", SCOPE],
        env=env,
        check=True,
        capture_output=True,
    )
    minted = subprocess.run(
        [
            *cli,
            "auth",
            "token",
            "--client-id",
            "bench",
            "--scope",
            SCOPE,
            "--audience",
            f"http://127.0.0.1:{port}/fhir",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return minted.stdout.strip()
