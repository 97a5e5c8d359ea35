"""Registry look-up and search: the API against the bare SQL it runs, measured in one run.

    .venv/bin/python benchmarks/registry.py [--database-url URL] [--extra 100000] [--rounds 300]

Seeds the Quảng Ninh registry into a fresh database (a temporary SQLite file by default), adds
`--extra` synthetic agencies (the national directory holds over 100,000), starts `lienthong serve`
as its own process and times, over keep-alive HTTP from this one:
  - GET /api/v1/organizations/{code}      vs  SELECT … WHERE code = :code
  - GET /api/v1/organizations?q=hong gai  vs  SELECT … WHERE search_text LIKE '%hong gai%'
Medians and p99 in milliseconds, and the ratio API / bare SQL. The machine is shared and noisy:
read ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, select, text

from lienthong import migrations
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.kernel.clock import utcnow
from lienthong.registry import seed
from lienthong.registry.models import Agency
from lienthong.registry.service import search_text_for

console = Console()


def timings(fn: Callable[[], object], rounds: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def add_synthetic(url: str, count: int) -> None:
    engine = make_engine(url)
    now = utcnow()
    batch = []
    with engine.begin() as conn:
        for i in range(count):
            code = f"{i % 1000:03d}.{(i // 1000) % 100:02d}.{(i // 100000) + 1:02d}.J{(i // 10_000_000) + 10:02d}"
            name = f"Đơn vị tổng hợp số {i}"
            batch.append(
                dict(
                    code=code,
                    name=name,
                    short_name=None,
                    kind="other",
                    level=4,
                    status="active",
                    serving_node="VN",
                    illustrative=True,
                    search_text=search_text_for(name, None, code),
                    created_at=now,
                    updated_at=now,
                )
            )
            if len(batch) == 5000:
                conn.execute(insert(Agency), batch)
                batch.clear()
        if batch:
            conn.execute(insert(Agency), batch)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument("--extra", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    console.print(
        f"database: {url.split('@')[-1]}  extra agencies: {args.extra:,}  rounds: {args.rounds}"
    )
    migrations.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        seed.seed_registry(session)
    add_synthetic(url, args.extra)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM agency")).scalar_one()
    console.print(f"agencies in the registry: {total:,}")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "LIENTHONG_DATABASE_URL": url,
        "LIENTHONG_PORT": str(port),
        "LIENTHONG_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen([sys.executable, "-m", "lienthong", "serve"], env=env)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    for _ in range(200):
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    code = "000.00.84.H49"

    def bare(stmt_fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            with engine.connect() as conn:
                return conn.execute(stmt_fn()).all()

        return run

    cases = [
        (
            "get by code",
            lambda: client.get(f"/api/v1/organizations/{code}"),
            bare(lambda: select(Agency).where(Agency.code == code)),
        ),
        (
            "search 'hong gai'",
            lambda: client.get("/api/v1/organizations", params={"q": "hong gai"}),
            bare(lambda: select(Agency).where(Agency.search_text.like("%hong gai%")).limit(50)),
        ),
    ]
    table = Table(title="registry: API vs bare SQL (ms)")
    for column in ("case", "API p50", "API p99", "SQL p50", "SQL p99", "ratio p50"):
        table.add_column(column, justify="right")
    for name, api_call, sql_call in cases:
        response = api_call()
        assert response.status_code == 200, response.text
        api = timings(api_call, args.rounds)
        raw = timings(sql_call, args.rounds)
        table.add_row(
            name,
            f"{statistics.median(api):.2f}",
            f"{p99(api):.2f}",
            f"{statistics.median(raw):.2f}",
            f"{p99(raw):.2f}",
            f"{statistics.median(api) / statistics.median(raw):.1f}×",
        )
    console.print(table)
    client.close()
    server.terminate()
    server.wait(timeout=10)
    engine.dispose()
    if args.database_url is None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
