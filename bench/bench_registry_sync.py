"""Measure what keeping the search registry in step with stored SearchParameters costs a request.

Not a test: run ``python bench/bench_registry_sync.py [--database-url URL]
[--custom N] [--repeat R]`` and read the figures (temporary SQLite file by default).

1. **Between checks**: making a ``SqlRepository`` while the marker is not due
   (what nearly every request pays), against passing the registry in (no sync).
2. **A check**: reading the marker (one index-only query on its own pooled
   connection) with nothing changed, as happens once per
   :data:`registry_sync.CHECK_INTERVAL` per process.
3. **A rebuild**: reading and checking the N stored custom SearchParameters
   after a change.
4. **Amortised**: the check spread over the requests of one interval, at 10,
   100 and 1,000 requests per second per process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# Lets `python bench/bench_registry_sync.py` run from a checkout without an install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fhir_server import migrations
from fhir_server.db import make_engine, make_session_factory, unit_of_work
from fhir_server.repository import SqlRepository, registry_sync


def _per_call(action: object, repeat: int) -> float:
    """Microseconds per call, the best of five runs."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            action()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - started) / repeat)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--custom", type=int, default=20, help="custom SearchParameters to store")
    parser.add_argument("--repeat", type=int, default=20000)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    engine = make_engine(url)
    migrations.upgrade(engine)
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        repo = SqlRepository(session)
        for n in range(args.custom):
            repo.update("SearchParameter", f"bench-{n}", {
                "resourceType": "SearchParameter", "id": f"bench-{n}", "url": f"http://example.org/sp/bench-{n}",
                "name": f"Bench{n}", "status": "active", "description": "bench", "code": f"bench-{n}",
                "base": ["Patient"], "type": "token", "expression": "Patient.maritalStatus",
            })  # fmt: skip
    session = sessions()
    registry = SqlRepository(session).registry
    between = _per_call(lambda: SqlRepository(session), args.repeat)
    plain = _per_call(lambda: SqlRepository(session, registry=registry), args.repeat)
    check = _per_call(lambda: registry_sync.custom_parameters(engine, fresh=True), max(args.repeat // 20, 100))
    started = time.perf_counter()
    registry_sync._syncs.pop(engine)  # as after a change: read and check every stored parameter again
    registry_sync.custom_parameters(engine)
    rebuild = (time.perf_counter() - started) * 1e3
    session.close()
    interval = registry_sync.CHECK_INTERVAL
    print(f"database: {engine.dialect.name}, {args.custom} custom SearchParameters, interval {interval} s")
    print(f"SqlRepository between checks: {between:.2f} µs (registry passed in: {plain:.2f} µs)")
    print(f"the sync's share: {between - plain:.2f} µs")
    print(f"marker check, nothing changed: {check:.1f} µs")
    print(f"rebuild after a change: {rebuild:.1f} ms")
    for rate in (10, 100, 1000):
        requests = rate * registry_sync.CHECK_INTERVAL
        print(f"amortised at {rate} requests/s: {(between - plain) + check / requests:.2f} µs per request")
    engine.dispose()


if __name__ == "__main__":
    main()
