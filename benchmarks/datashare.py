"""Shared data at scale: calls by key through the gateway (grant check, item filtering, rate
limit, the sharing log with its hash-chained entry) over HTTP from concurrent clients, beside
the same look-up done directly in SQL, on one hosted dataset of 1,000,000 records.

    .venv/bin/python benchmarks/datashare.py [--count 1000000] [--requests 4000] [--clients 8]
        [--processes 2]

It creates a throwaway PostgreSQL database (127.0.0.1, trust auth), runs `lienthong db upgrade`
and `lienthong db seed`, makes the dataset `bench-doanh-nghiep` (valid tax codes as keys) with
psycopg COPY, a consumer system and its grant through the real service functions, then starts
`lienthong serve --processes N` and measures GET /api/v1/data/bench-doanh-nghiep/tra-cuu?key=
with keep-alive httpx clients. The baseline is the provider's statement on a bare psycopg
connection. At the end every call must be in the sharing log. Targets (2 cores, PostgreSQL):
gateway overhead <= 3 ms over the direct query at p50, p99 < 25 ms at 8 clients, >= 500 calls/s.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import _common as common  # the folder of this script is on sys.path when it is run
import httpx
import psycopg
from rich.console import Console
from rich.progress import Progress

from lienthong.accounts import service as accounts
from lienthong.config import Settings
from lienthong.datashare import access, catalogue
from lienthong.datashare.catalogue import Item
from lienthong.datashare.identifiers import make_tax_code
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.kernel.clock import utcnow

console = Console()
DATASET = "bench-doanh-nghiep"
CONSUMER = "000.00.16.H49"
OWNER = "000.00.03.H49"


def make_dataset(url: str, count: int) -> tuple[str, str, list[str]]:
    """The dataset, `count` records by COPY, a consumer system and its grant."""
    factory = make_session_factory(make_engine(url))
    with unit_of_work(factory) as session:
        dataset = catalogue.create_dataset(
            session,
            code=DATASET,
            database="csdl-doanh-nghiep",
            owner_code=OWNER,
            name_vi="Doanh nghiệp (đo tải)",
            name_en="Enterprises (benchmark)",
            field="doanh_nghiep",
            key_item="ma_so_thue",
            subject_item="ma_so_thue",
            subject_kind="tax_code",
            illustrative=True,
            items=[
                Item("ma_so_thue", "MST", "Tax code", "open"),
                Item("ten", "Tên", "Name", "open"),
                Item("dia_chi", "Địa chỉ", "Address", "shared"),
                Item("nguoi_dai_dien", "Đại diện", "Representative", "restricted"),
            ],
        )
        catalogue.add_service(session, dataset=dataset, code="tra-cuu", kind="get")
        dataset_id = dataset.id
    rng = random.Random(2026)
    keys: set[str] = set()
    now = utcnow()
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn, Progress(console=console) as progress:
        task = progress.add_task("records", total=count)
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY data_record (dataset_id, key, subject, data, seq, updated_at) FROM STDIN"
            ) as copy,
        ):
            seq = 0
            while seq < count:
                key = make_tax_code(rng)
                if key in keys:
                    continue
                keys.add(key)
                seq += 1
                data = {
                    "ma_so_thue": key,
                    "ten": f"Công ty {seq}",
                    "dia_chi": f"Số {seq % 500}, Hạ Long",
                    "nguoi_dai_dien": f"Người {seq}",
                }
                copy.write_row(
                    (dataset_id, key, key, json.dumps(data, ensure_ascii=False), seq, now)
                )
                if seq % 10_000 == 0:
                    progress.update(task, completed=seq)
            progress.update(task, completed=count)
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE data_record")
    settings = Settings(database_url=url)
    with unit_of_work(factory) as session:
        system_id, secret = accounts.issue_credential(session, agency_code=CONSUMER)
        request = access.request_access(
            session,
            settings=settings,
            consumer_code=CONSUMER,
            ask=access.Ask(
                dataset_code=DATASET,
                service_code="tra-cuu",
                consumer_system=system_id,
                items=["ma_so_thue", "ten", "dia_chi"],
                purpose="Đo tải",
                legal_basis="Nghị định 47/2020/NĐ-CP",
                frequency="Liên tục",
                period_from=now - timedelta(minutes=1),
                period_to=now + timedelta(days=1),
            ),
            requested_by_id=None,
        )
        access.approve(
            session,
            request_id=request.id,
            acting_code=OWNER,
            actor_id=None,
            rate_per_minute=10_000_000,
        )
    return system_id, secret, sorted(keys)


def direct(url: str, dataset_keys: list[str], n: int) -> list[float]:
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    out = []
    with psycopg.connect(raw) as conn:
        dataset_id = conn.execute(
            "SELECT id FROM data_dataset WHERE code = %s", (DATASET,)
        ).fetchone()[0]  # type: ignore[index]
        statement = "SELECT data FROM data_record WHERE dataset_id = %s AND key = %s"
        rng = random.Random(1)
        for _ in range(n):
            key = rng.choice(dataset_keys)
            t = time.perf_counter()
            conn.execute(statement, (dataset_id, key), prepare=True).fetchone()
            out.append((time.perf_counter() - t) * 1000)
    return out


def gateway(
    base: str, auth: tuple[str, str], keys: list[str], n: int, clients: int
) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per = n // clients

    def run(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        mine = []
        bad = 0
        with httpx.Client(base_url=base, auth=auth, timeout=30) as client:
            for i in range(per):
                key = rng.choice(keys)
                t = time.perf_counter()
                r = client.get(
                    f"/api/v1/data/{DATASET}/tra-cuu",
                    params={"key": key},
                    headers={"Lienthong-Purpose": f"bench-{seed}-{i}"},
                )
                mine.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200 or len(r.json()["records"]) != 1:
                    bad += 1
        with lock:
            latencies.extend(mine)
            errors += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(s,)) for s in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, per * clients / (time.perf_counter() - started), errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="lienthong-bench-data-"))
    db = common.create_database("postgresql", folder)
    nodes: list[common.NodeProcess] = []
    try:
        console.print(f"[bold]datashare benchmark[/] · {common.machine()} · {db.label}")
        env = common.lienthong_env(folder, db.url)
        common.run_cli(["db", "upgrade"], env)
        common.run_cli(["db", "seed"], env)
        t = time.perf_counter()
        system_id, secret, keys = make_dataset(db.url, args.count)
        console.print(f"{args.count:,} records in {time.perf_counter() - t:.1f} s")
        port = common.free_port()
        node = common.NodeProcess(
            "server",
            ["serve", "--port", str(port), "--processes", str(args.processes)],
            {**env, "LIENTHONG_PORT": str(port)},
            folder / "server.log",
            url=f"http://127.0.0.1:{port}",
        )
        nodes.append(node)
        node.start()
        node.wait_ready()
        base = node.url or ""
        gateway(base, (system_id, secret), keys, 200, 2)  # warm-up
        direct_ms = direct(db.url, keys, args.requests)
        seq_ms, seq_rate, seq_err = gateway(base, (system_id, secret), keys, args.requests // 4, 1)
        conc_ms, conc_rate, conc_err = gateway(
            base, (system_id, secret), keys, args.requests, args.clients
        )
        p = common.percentile
        overhead = p(seq_ms, 50) - p(direct_ms, 50)
        raw = db.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(raw) as conn:
            logged = conn.execute(
                "SELECT count(*) FROM data_share_call WHERE outcome = 'ok'"
            ).fetchone()[0]  # type: ignore[index]
            chained = conn.execute(
                "SELECT count(*) FROM message_log WHERE kind = 'data'"
            ).fetchone()[0]  # type: ignore[index]
        made = 200 + len(seq_ms) + len(conc_ms)  # the warm-up, then both runs
        console.print(
            f"direct SQL by key      p50 {p(direct_ms, 50):.2f} ms  p99 {p(direct_ms, 99):.2f} ms"
        )
        console.print(
            f"gateway, 1 client      p50 {p(seq_ms, 50):.2f} ms  p99 {p(seq_ms, 99):.2f} ms  {seq_rate:.0f} calls/s  errors {seq_err}"
        )
        console.print(
            f"gateway, {args.clients} clients     p50 {p(conc_ms, 50):.2f} ms  p99 {p(conc_ms, 99):.2f} ms  {conc_rate:.0f} calls/s  errors {conc_err}"
        )
        console.print(
            f"overhead at p50 (1 client): {overhead:.2f} ms (target <= 3 ms); p99 at {args.clients} clients "
            f"{p(conc_ms, 99):.1f} ms (target < 25 ms); {conc_rate:.0f} calls/s (target >= 500)"
        )
        console.print(
            f"sharing log: {logged} ok rows, {chained} chained entries for {made} calls "
            f"({'every call logged' if logged == made == chained else 'MISMATCH'})"
        )
    finally:
        common.stop_all(nodes)
        db.drop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
