"""Search benchmark at a million resources: load once, then time a fixed query mix over HTTP.

Usage::

    .venv/bin/python bench/bench_search.py [--patients 20000] [--obs 47] [--reuse] [--runs 200]

Loads Patients, 2 Encounters each and ``--obs`` Observations each (20,000 x 50 =
1,000,000 resources by default) into the PostgreSQL database ``fhir_search_bench``
with COPY, rows built by the server's own extraction code (see search_data.py);
``--reuse`` skips loading when the database is already there. Then it serves the
database with gunicorn and runs each query ``--runs`` times from one keep-alive
client, printing p50/p95 latency per query and the size of each table and index.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import orjson
import psycopg2
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_data import CODES, FAMILIES, CopyBuffers, copy_chunk, generate_chunk

DATABASE = "fhir_search_bench"
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def load(patients: int, obs: int) -> None:
    admin = psycopg2.connect(ADMIN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {DATABASE}")
    admin.close()
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{DATABASE}"
    subprocess.run(
        [sys.executable, "-m", "fhir_server.cli", "db", "upgrade"],
        env={**os.environ, "FHIR_SERVER_DATABASE_URL": url},
        check=True,
    )
    connection = psycopg2.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={DATABASE}")
    total = patients * (3 + obs)
    started, moment = time.monotonic(), datetime.now(UTC)
    columns = CopyBuffers().columns
    step = 200
    chunks = [(first, min(first + step, patients), obs, moment) for first in range(0, patients, step)]
    # Both cores generate (extraction is the costly part); this process COPYs as chunks arrive.
    with (
        multiprocessing.Pool(os.cpu_count()) as pool,
        connection.cursor() as cursor,
        tqdm(total=total, unit="res", desc="Generating and COPYing") as progress,
    ):
        for (first, last, _, _), chunk in zip(chunks, pool.imap(generate_chunk, chunks), strict=True):
            copy_chunk(cursor, chunk, columns)
            connection.commit()
            progress.update((last - first) * (3 + obs))
        for table in ("resource", "resource_history"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'pk'), (SELECT max(pk) FROM {table}))")
        connection.commit()
    print(f"Loaded {total} resources in {time.monotonic() - started:.0f} s; analyzing...")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()


def sizes() -> list[tuple[str, str, str]]:
    connection = psycopg2.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={DATABASE}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, pg_size_pretty(pg_table_size(c.oid)), pg_size_pretty(pg_indexes_size(c.oid)) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC"
        )
        rows = cursor.fetchall()
    connection.close()
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(conn: http.client.HTTPConnection, path: str) -> tuple[float, dict]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "application/fhir+json"})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status == 200, (path, response.status, body[:300])
    return elapsed, orjson.loads(body)


def queries(rng: random.Random, patients: int) -> dict[str, str]:
    pid = rng.randrange(patients)
    code = rng.choice(CODES)[0]
    family = rng.choice(FAMILIES)
    year = rng.randint(2015, 2023)
    return {
        "Observation?subject=&code= (patient + code)": f"/fhir/Observation?subject=Patient/pat-{pid}&code=http://loinc.org|{code}",
        "Observation?code= (50-result page)": f"/fhir/Observation?code={code}&_count=50",
        "code + date range, _sort=-date": f"/fhir/Observation?code={code}&date=ge{year}-01-01&date=lt{year + 1}-01-01&_sort=-date&_count=50",
        "Patient?name= (string prefix)": f"/fhir/Patient?name={family[:4].lower()}&_count=20",
        "chained subject:Patient.name": f"/fhir/Observation?subject:Patient.name={quote(family)}&code={code}&_count=20",
        "Patient?_id=&_revinclude=Observation:subject": f"/fhir/Patient?_id=pat-{pid}&_revinclude=Observation:subject",
        "_sort=-date&_count=50, page 1 and next": f"/fhir/Observation?patient=Patient/pat-{pid}&_sort=-date&_count=50",
    }


def run_queries(port: int, patients: int, runs: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    rng = random.Random(7)
    timings: dict[str, list[float]] = {}
    for _ in range(5):  # warm-up: connections, caches, statement preparation
        for path in queries(rng, patients).values():
            timed(conn, path)
    for _ in tqdm(range(runs), desc="Queries", unit="round"):
        for label, path in queries(rng, patients).items():
            elapsed, bundle = timed(conn, path)
            if label.startswith("_sort"):
                nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
                if nxt:
                    extra, _ = timed(conn, urlsplit(nxt[0])._replace(scheme="", netloc="").geturl())
                    timings.setdefault("  ... next page", []).append(extra)
            timings.setdefault(label, []).append(elapsed)
    print(f"\n{'query':<48} {'p50 ms':>8} {'p95 ms':>8}")
    for label, values in timings.items():
        values.sort()
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"{label:<48} {statistics.median(values):>8.1f} {p95:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--obs", type=int, default=47, help="Observations per patient")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    args = parser.parse_args()
    if not args.reuse:
        load(args.patients, args.obs)
    print(f"\n{'table':<22} {'data':>10} {'indexes':>10}")
    for name, data, index in sizes():
        print(f"{name:<22} {data:>10} {index:>10}")
    port = free_port()
    env = {**os.environ, "FHIR_SERVER_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{DATABASE}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "fhir_server.cli", "serve", "--workers", str(args.workers), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/fhir/metadata")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        time.sleep(1)
        run_queries(port, args.patients, args.runs)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
