"""Write/read benchmark of the REST core: gunicorn on PostgreSQL, load from wrk.

Runs create, read, update and a mixed CRUD load (50% read, 20% create, 20% update,
10% delete) with 1 and 8 concurrent clients, and prints latency percentiles and
throughput. wrk (Debian package ``wrk``) generates the load because a Python
client would spend as much CPU as the server on this 2-core machine.

Usage::

    .venv/bin/python bench/bench_crud.py [--workers 4] [--duration 10] [--admin-url URL] [--auth smart|off]

``--auth smart`` (the server's default) sends a SMART token on every request and audits
every access; ``--auth off`` runs the open server, for the comparison in docs/benchmarks.md.

It creates a throw-away database on the PostgreSQL server of ``--admin-url``
(default: the local one), serves it on a free port, and drops it afterwards.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dev_token import mint_dev_token

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk" / "crud.lua"
SEEDED = 2000
#: (label, MODE for the Lua script, connections)
PHASES = [
    ("read by id, 1 client", "read", 1),
    ("create, 1 client", "create", 1),
    ("read by id, 8 clients", "read", 8),
    ("create, 8 clients", "create", 8),
    ("update, 8 clients", "update", 8),
    ("mixed CRUD, 8 clients", "mixed", 8),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/fhir/metadata")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"The server on port {port} did not become ready in {timeout} s.")


def seed(port: int, token: str = "") -> None:
    """PUT the read/update and delete targets the Lua script refers to."""
    headers = {"Content-Type": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def put_range(prefix: str, numbers: range) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for n in numbers:
            body = f'{{"resourceType":"Patient","id":"{prefix}{n}","name":[{{"family":"Seed"}}]}}'
            conn.request("PUT", f"/fhir/Patient/{prefix}{n}", body, headers)
            response = conn.getresponse()
            response.read()
            assert response.status in (200, 201), response.status

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        chunks = [range(i, min(i + 500, SEEDED + 1)) for i in range(1, SEEDED + 1, 500)]
        list(pool.map(lambda c: put_range("bench-r-", c), chunks))
        list(pool.map(lambda c: put_range("bench-d-", c), chunks))


def run_wrk(port: int, mode: str, connections: int, duration: int, token: str = "") -> dict[str, float]:
    threads = min(connections, 2)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
    ]
    output = subprocess.run(
        command,
        env={**os.environ, "MODE": mode, "SEEDED": str(SEEDED), "TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", output)
        value, unit = float(match.group(1)), match.group(2)  # type: ignore[union-attr]
        result[f"p{pct}"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (one per core measured best)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase")
    parser.add_argument(
        "--auth", choices=["smart", "off"], default="smart", help="SMART tokens and audit, or an open server"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")

    name = f"fhir_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": url, "FHIR_SERVER_AUTH": args.auth}
    cli = [sys.executable, "-m", "fhir_server.cli"]
    port = free_port()
    server = None
    try:
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [*cli, "serve", "--workers", str(args.workers), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(port)
        token = ""
        if args.auth == "smart":
            token = mint_dev_token(cli, env, port)
        seed(port, token)
        print(
            f"gunicorn {args.workers} workers (gthread) on PostgreSQL; auth {args.auth}; wrk; "
            f"{os.cpu_count()} cores; {args.duration} s per phase"
        )
        print(f"{'phase':<26} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for label, mode, connections in PHASES:
            r = run_wrk(port, mode, connections, args.duration, token)
            print(
                f"{label:<26} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p90']:>8.2f} {r['p99']:>8.2f} {r['errors']:>7.0f}",
                flush=True,
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
