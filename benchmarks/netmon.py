"""Probing at the province's scale and beyond: N targets on loopback addresses (127.20.x.y,
which Linux answers), every one due at once (the worst round), probed and stored by the same
`Prober` the worker runs; then the board over all of them.

    .venv/bin/python benchmarks/netmon.py [--targets 1000] [--rounds 3] [--database sqlite|postgresql]
        [--threads 256]

Printed: the wall time of each round (all probes of a round must finish within the 30 s
interval), the process CPU (probing + storing, all threads) per round and as a share of one core
over a 30 s interval (target: < 25 % for 1,000 targets), and the board's render time over every
target (the API's first page, and the /mang page; target < 300 ms for 10,000).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import _common as common  # the folder of this script is on sys.path when it is run
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text, update

from lienthong import migrations
from lienthong.accounts import service as accounts
from lienthong.accounts.deps import SESSION_COOKIE
from lienthong.accounts.models import Role
from lienthong.app import create_app
from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.kernel.clock import utcnow
from lienthong.netmon import inventory
from lienthong.netmon.models import ProbeTarget
from lienthong.netmon.prober import Prober
from lienthong.netmon.probes import IcmpProbe, _unprivileged_icmp, default_probes
from lienthong.registry import seed
from lienthong.registry.models import Agency

INTERVAL = 30.0


def database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'netmon.db'}"
    name = f"lienthong_bench_netmon_{secrets.token_hex(3)}"
    admin = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--threads", type=int, default=256)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="lienthong-netmon-bench-"))
    url = database(args.database, folder)
    migrations.upgrade(url)
    factory = make_session_factory(make_engine(url))
    settings = Settings(
        database_url=url,
        log_json=False,
        log_level="WARNING",
        blob_dir=folder / "blobs",
        key_dir=folder / "keys",
        rate_limit_url="memory://",
        netmon_probe_threads=args.threads,
        netmon_round_max=args.targets,
    )
    with unit_of_work(factory) as session:
        seed.seed_registry(session)
        site_ids = list(session.scalars(select(Agency.id).order_by(Agency.id)))
        for i in range(args.targets):
            inventory.save_link(
                session,
                values={
                    "site_id": site_ids[i % len(site_ids)],
                    "provider": ("VNPT", "Viettel")[i % 2],
                    "circuit_id": f"BENCH-{i:05d}",
                    "bandwidth_mbps": 20,
                    "addresses": [f"127.20.{i // 250}.{i % 250 + 1}"],
                    "upstream_site_id": None,
                    "state": "in_service",
                    "illustrative": True,
                },
                interval=int(INTERVAL),
            )
        user = accounts.create_user(
            session,
            username="bench.net",
            full_name="Bench",
            password="correct horse",  # noqa: S106 - a throwaway database
            grants=[(settings.node_agency_code, Role.NETWORK)],
        )
        token = accounts.open_session(session, user=user, hours=1)
    prober = Prober(
        factory, settings, {**default_probes(), "icmp": IcmpProbe(count=5, interval=0.2)}
    )
    print(
        f"netmon benchmark · {common.machine()} · {args.database} · {args.targets} ICMP targets (5 echoes each) · {args.threads} probe threads · ICMP sockets: {'datagram' if _unprivileged_icmp() else 'raw (set net.ipv4.ping_group_range for datagram ones)'}"
    )
    walls, cpus = [], []
    for n in range(args.rounds):
        with unit_of_work(factory) as session:
            session.execute(update(ProbeTarget).values(next_due_at=utcnow() - timedelta(seconds=1)))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        probed = prober.run_round()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        walls.append(wall)
        cpus.append(cpu)
        print(
            f"round {n + 1}: {probed} probed and stored in {wall:.2f} s wall, {cpu:.2f} s CPU ({100 * cpu / INTERVAL:.1f} % of one core over {INTERVAL:.0f} s)"
        )
    with factory() as session:
        up = session.scalar(
            select(text("count(*)")).select_from(ProbeTarget).where(ProbeTarget.status == "up")
        )
    print(f"targets up after the rounds: {up}/{args.targets}")
    client = TestClient(create_app(settings, factory))
    client.cookies.set(SESSION_COOKIE, token)
    for path in ("/api/v1/netmon/links?page_size=50", "/mang", "/api/v1/netmon/summary"):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            answer = client.get(path)
            times.append(time.perf_counter() - t0)
            assert answer.status_code == 200, answer.text[:300]
        print(f"GET {path}: median {1000 * statistics.median(times):.0f} ms over 5")
    if walls:
        print(
            f"summary: round wall max {max(walls):.2f} s (interval {INTERVAL:.0f} s); CPU per round median {statistics.median(cpus):.2f} s = {100 * statistics.median(cpus) / INTERVAL:.1f} % of one core"
        )
    if os.environ.get("KEEP") != "1" and args.database == "sqlite":
        for p in folder.glob("*"):
            if p.is_file():
                p.unlink()


if __name__ == "__main__":
    main()
