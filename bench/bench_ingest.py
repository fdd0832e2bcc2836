"""Ingest benchmark: Synthea transaction Bundles over HTTP and through ``fhir-server load``.

Each phase gets its own throw-away PostgreSQL database. The Synthea patient
Bundles of ``--synthea-dir`` (default: the six in ``tests/data/synthea/``; the
figures in docs/benchmarks.md use the 41 of the shared set) are replicated with fresh UUIDs (``--copies``)
so every copy is new data. Phases:

1. HTTP: ``fhir-server serve --workers N``; 4 client threads ``POST [base]`` one
   transaction Bundle each at a time.
2. load: ``fhir-server load --jobs J`` over a folder of the replicated Bundles.
3. profile: cProfile of the bundle processor in-process on a few Bundles, with
   the time split into JSON, validation, index extraction, SQL and the rest.

Usage::

    .venv/bin/python bench/bench_ingest.py [--copies 2] [--workers 4] [--jobs 2] [--synthea-dir DIR]
    FHIR_SERVER_R4B_CROSSCHECK=false .venv/bin/python bench/bench_ingest.py   # R4 check only
"""

from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import http.client
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_crud import free_port, wait_ready
from dev_token import mint_dev_token

ROOT = Path(__file__).resolve().parent.parent
SYNTHEA = ROOT / "tests" / "data" / "synthea"
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLI = [sys.executable, "-m", "fhir_server.cli"]


def replicate(copies: int, directory: Path = SYNTHEA) -> list[bytes]:
    """The patient Bundles ``copies`` times, each copy with every UUID replaced by a fresh one."""
    sources = sorted(p for p in directory.glob("*.json") if not p.name.startswith("practitioner"))
    return [_fresh_uuids(path.read_bytes()) for _ in range(copies) for path in sources]


def _fresh_uuids(raw: bytes) -> bytes:
    """``raw`` with every UUID replaced by a fresh one (the same one at each of its occurrences)."""
    mapping: dict[bytes, bytes] = {}
    return _UUID.sub(lambda m: mapping.setdefault(m.group(0), str(uuid.uuid4()).encode()), raw)


def entries(bundles: list[bytes]) -> int:
    return sum(raw.count(b'"request"') for raw in bundles)


class Database:
    """A throw-away, migrated database on the admin URL's server."""

    def __init__(self, admin_url: str) -> None:
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"fhir_ingest_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        self.env = {**os.environ, "FHIR_SERVER_DATABASE_URL": self.url}
        subprocess.run([*CLI, "db", "upgrade"], env=self.env, check=True, capture_output=True)

    def drop(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def bench_http(admin_url: str, bundles: list[bytes], workers: int, clients: int, auth: str) -> float:
    db, port = Database(admin_url), free_port()
    env = {**db.env, "FHIR_SERVER_AUTH": auth}
    server = subprocess.Popen(
        [*CLI, "serve", "--workers", str(workers), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port)
        headers = {"Content-Type": "application/fhir+json", "Prefer": "return=minimal"}
        if auth == "smart":
            headers["Authorization"] = f"Bearer {mint_dev_token(CLI, env, port)}"

        def send(chunk: list[bytes]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            for body in chunk:
                conn.request("POST", "/fhir", body, headers)
                response = conn.getresponse()
                payload = response.read()
                assert response.status == 200, payload[:500]

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(send, [bundles[i::clients] for i in range(clients)]))
        return entries(bundles) / (time.monotonic() - started)
    finally:
        server.terminate()
        server.wait(10)
        db.drop()


def bench_load(admin_url: str, bundles: list[bytes], jobs: int) -> tuple[float, str]:
    db = Database(admin_url)
    try:
        with tempfile.TemporaryDirectory() as folder:
            for number, raw in enumerate(bundles):
                Path(folder, f"b{number:05d}.json").write_bytes(raw)
            started = time.monotonic()
            done = subprocess.run(
                [*CLI, "load", "--jobs", str(jobs), folder], env=db.env, capture_output=True, text=True, check=True
            )
            rate = entries(bundles) / (time.monotonic() - started)
        return rate, done.stdout.strip()
    finally:
        db.drop()


#: Profile categories: a function name pattern, matched against ``file:function``.
CATEGORIES = [
    ("validation (R4 element check + R4B pydantic)", "conformance/validation.py:validate_resource"),
    ("index value extraction (FHIRPath)", "fhir_server/search/extract.py:extract_index_values"),
    ("lock query (updates)", "fhir_server/repository/_statements.py:lock_many"),
    ("resource + history + index rows, one statement", "fhir_server/repository/_statements.py:write_many"),
    ("reference rewriting", "fhir_server/repository/_bundle_entries.py:rewrite_references"),
    ("JSON parse (request)", "conformance/fhir_json.py:loads"),
    ("JSON serialize (stamp)", "conformance/fhir_json.py:dumps"),
    ("commit", "sqlalchemy/orm/session.py:commit"),
]


def profile(admin_url: str, bundles: list[bytes]) -> None:
    from conformance import fhir_json
    from fhir_server.db import make_engine, make_session_factory
    from fhir_server.repository import SqlRepository
    from fhir_server.repository.bundle_processor import BundleOptions, process_bundle

    db = Database(admin_url)
    engine = make_engine(db.url)
    sessions = make_session_factory(engine)
    options = BundleOptions(base_url="http://localhost/fhir", prefer_return="minimal")
    profiler = cProfile.Profile()
    try:
        started = time.monotonic()
        profiler.enable()
        for raw in bundles:
            with sessions() as session:
                process_bundle(SqlRepository(session), fhir_json.loads(raw), options)
                session.commit()
        profiler.disable()
        wall = time.monotonic() - started
    finally:
        engine.dispose()
        db.drop()
    stats = pstats.Stats(profiler)
    total = sum(v[3] for k, v in stats.stats.items() if k[2] == "process_bundle") + sum(  # type: ignore[attr-defined]
        v[3]
        for k, v in stats.stats.items()
        if k[0].endswith("sqlalchemy/orm/session.py") and k[2] == "commit"  # type: ignore[attr-defined]
    )
    print(
        f"profile: {entries(bundles)} resources in {wall:.2f} s in one process ({entries(bundles) / wall:.0f}/s, with cProfile overhead)"
    )
    for label, pattern in CATEGORIES:
        where, _, name = pattern.rpartition(":")
        cumulative = sum(
            v[3]
            for k, v in stats.stats.items()
            if k[2] == name and (k[0].endswith(where) or (where == "" and name in k[2]))
        )  # type: ignore[attr-defined]
        print(f"  {label:<48} {cumulative:6.2f} s  {100 * cumulative / total:5.1f}%")
    psycopg = sum(v[2] for k, v in stats.stats.items() if "execute" in k[2] and "psycopg2" in k[2])  # type: ignore[attr-defined]
    print(
        f"  {'of which in psycopg2 execute (server round trips)':<48} {psycopg:6.2f} s  {100 * psycopg / total:5.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--copies", type=int, default=2, help="replicas of the Synthea Bundles")
    parser.add_argument("--synthea-dir", type=Path, default=SYNTHEA, help="folder of Synthea patient Bundles")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers for the HTTP phase")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="processes for the load phase")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: http,load,profile")
    parser.add_argument(
        "--auth", choices=["smart", "off"], default="smart", help="HTTP phase: SMART token and audit, or an open server"
    )
    args = parser.parse_args()
    bundles = replicate(args.copies, args.synthea_dir)
    skip = set(args.skip.split(","))
    r4b = os.environ.get("FHIR_SERVER_R4B_CROSSCHECK", "true").lower() not in ("false", "0", "no", "off")
    checks = "R4 definitions + R4B models" if r4b else "R4 definitions only (FHIR_SERVER_R4B_CROSSCHECK=false)"
    print(
        f"{len(bundles)} Bundles, {entries(bundles)} resources; {os.cpu_count()} cores; PostgreSQL; validation: {checks}",
        flush=True,
    )
    if "http" not in skip:
        rate = bench_http(args.admin_url, bundles, args.workers, args.clients, args.auth)
        print(
            f"HTTP POST transaction, {args.clients} clients, {args.workers} workers, auth {args.auth}: {rate:,.0f} resources/s",
            flush=True,
        )
    if "load" not in skip:
        rate, output = bench_load(args.admin_url, bundles, args.jobs)
        print(
            f"fhir-server load --jobs {args.jobs}: {rate:,.0f} resources/s (process start included) [{output}]",
            flush=True,
        )
    if "profile" not in skip:
        profile(args.admin_url, bundles[:8])


if __name__ == "__main__":
    main()
