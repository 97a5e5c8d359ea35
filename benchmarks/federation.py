"""Two nodes over HTTP: packages/s handed from Quảng Ninh (H49) to the national axis (VN), and
the drain of a backlog queued while the axis was down, against the raw cost of a hand-over.

    .venv/bin/python benchmarks/federation.py [--backlog 10000] [--live 1000]
        [--database postgresql|sqlite] [--keep]

Sets up a federation root and two nodes, each with its own throwaway database (PostgreSQL on
127.0.0.1 by default, or SQLite files) and folder, with `lienthong db upgrade`, `db seed`,
`node init` and `peer add`; each node runs `lienthong serve` and `lienthong worker` (job
worker + forwarder) as its own processes. Every package is a 10 KB PDF-looking attachment from
one of nine Quảng Ninh departments to Văn phòng Chính phủ (served by VN), one in ten hỏa tốc
(priority 3); it is signed and taken in by the sender's node in this process, as `doc send`
does (the clerk's and intake's work, before the clock for the hand-over starts).

1. Live: `--live` packages are taken in while both nodes run; printed: the rate at which they
   are handed over (receipts stored at H49) and end to end (01 back at H49 for all).
2. Drain: the axis is stopped, `--backlog` packages are queued at H49, the axis is started
   again; printed: seconds and packages/s until H49's queue is empty (every receipt stored),
   until the urgent ones are (they leave first), and until every 01 is back; CPU per package
   of H49's worker and VN's server during the drain.

Baseline, same run, same keys and packages, in this process: the raw cost of one hand-over,
i.e. the RFC 9421 request signature and its check, the parse + XML-DSig check of the package at
the far end, and the signed receipt and its check, with no HTTP, database or disk. Target:
>= 300 packages/s drained.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import _common as common  # the folder of this script is on sys.path when it is run
from rich.console import Console
from rich.progress import track
from rich.table import Table
from sqlalchemy import func, select

from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.exchange import compose
from lienthong.exchange.edxml.reader import read
from lienthong.exchange.edxml.signature import verify
from lienthong.exchange.models import Delivery, DeliveryStatus
from lienthong.federation.httpsig import (
    content_digest,
    sign_request,
    verify_request,
    verify_response,
)
from lienthong.federation.models import Outbound
from lienthong.federation.transport import signed_json_response
from lienthong.kernel.pki import FileKeyStore
from lienthong.runtime import Runtime, build_runtime

console = Console()
VPCP = "000.00.00.G22"
SENDERS = [f"000.00.{n:02d}.H49" for n in range(2, 11)]
ATTACHMENT = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"  # ~10 KB


class Node:
    def __init__(self, root: Path, code: str, home: str, kind: str, admin_url: str) -> None:
        self.code = code
        self.folder = root / code
        self.folder.mkdir()
        self.db = common.create_database(kind, self.folder, admin_url=admin_url)
        self.port = common.free_port()
        self.env = common.lienthong_env(
            self.folder,
            self.db.url,
            LIENTHONG_NODE_CODE=code,
            LIENTHONG_NODE_AGENCY_CODE=home,
            LIENTHONG_PORT=str(self.port),
            LIENTHONG_BASE_URL=f"http://127.0.0.1:{self.port}",
            LIENTHONG_WORKER_POLL_SECONDS="0.1",
            LIENTHONG_FORWARD_POLL_SECONDS="0.1",
            LIENTHONG_PEER_RETRY_BASE_SECONDS="0.2",
            LIENTHONG_PEER_RETRY_MAX_SECONDS="0.5",
        )
        self.processes: list[common.NodeProcess] = []
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        server = common.NodeProcess(
            "server", ["serve"], dict(self.env), self.folder / "server.log", url=self.url
        )
        worker = common.NodeProcess(
            "worker", ["worker"], dict(self.env), self.folder / "worker.log"
        )
        self.processes = [server, worker]
        for process in self.processes:
            process.start()
        for process in self.processes:
            process.wait_ready()

    def stop(self) -> None:
        common.stop_all(self.processes)

    def pid(self, role: str) -> int:
        return next(p.pid for p in self.processes if p.role == role)

    def settings(self) -> Settings:
        values = {
            k[len("LIENTHONG_") :].lower(): v
            for k, v in self.env.items()
            if k.startswith("LIENTHONG_")
        }
        return Settings(**values)  # type: ignore[arg-type]


def take_in(sender: Node, runtime: Runtime, count: int, label: str, offset: int) -> list[str]:
    factory = make_session_factory(make_engine(sender.db.url))
    ids = []
    for i in track(range(count), description=label, console=console):
        code = SENDERS[(offset + i) % len(SENDERS)]
        with unit_of_work(factory) as session:
            answer = compose.send(
                session,
                runtime,
                sender_code=code,
                draft=compose.Draft(
                    recipients=[VPCP],
                    subject=f"Báo cáo số {offset + i}",
                    priority=3 if (offset + i) % 10 == 0 else 0,
                    uploads=[compose.Upload("bao-cao.pdf", io.BytesIO(ATTACHMENT))],
                ),
            )
        ids.append(answer["document_id"])
    return ids


def wait_until(check: object, what: str, timeout: float, poll: float = 0.05) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(poll)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def raw_handover_ms(sender_rt: Runtime, receiver_rt: Runtime, shas: list[str]) -> float:
    """Median thread-CPU ms of one hand-over's inherent work, in this process."""
    sender_id = sender_rt.keys.transport_identity()
    receiver_id = receiver_rt.keys.transport_identity()
    assert sender_id is not None
    assert receiver_id is not None
    costs = []
    for sha in shas:
        with sender_rt.blobs.open(sha) as handle:
            body = handle.read()
        started = time.thread_time()
        url = "http://127.0.0.1/federation/v1/packages"
        headers = {
            "Content-Digest": content_digest(hashlib.sha256(body).digest()),
            "Lienthong-To": "VN",
        }
        headers.update(
            sign_request(method="POST", url=url, headers=headers, key=sender_id.key, key_id="H49")
        )
        verify_request(
            method="POST", url=url, headers=headers, resolve=lambda _k: sender_id.chain[0]
        )
        result = read([body])
        package = result.package
        assert package.signature is not None
        verify(
            package.signature,
            result.stream,
            sender_code=package.from_.organ_id,
            keys=sender_rt.keys,
            allow_sha1=False,
        )
        _answer, answer_headers = signed_json_response(receiver_rt, 200, {"package_sha256": sha})
        verify_response(
            status=200,
            headers=answer_headers,
            certificate=receiver_id.chain[0],
            expected_key_id="VN",
        )
        costs.append((time.thread_time() - started) * 1000)
    return common.percentile(costs, 50)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--live", type=int, default=1000)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg-admin-url", default=common.PG_ADMIN_URL)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="lienthong-federation-bench-"))
    console.print(f"[bold]benchmarks/federation.py[/] · {common.machine()}")
    qn = Node(root, "H49", "000.00.00.H49", args.database, args.pg_admin_url)
    vn = Node(root, "VN", VPCP, args.database, args.pg_admin_url)
    console.print(f"databases: {qn.db.label}; {vn.db.label}")
    try:
        common.run_cli(["node", "ca", str(root / "ca")], qn.env)
        for node in (qn, vn):
            for step in (
                ["db", "upgrade"],
                ["db", "seed"],
                ["node", "init", "--federation-ca", str(root / "ca")],
            ):
                common.run_cli(step, node.env)
            node.start()
        common.run_cli(["peer", "add", "H49", qn.url], vn.env)
        # VPCP's 01s cross to H49 and must be signed as VPCP (QCVN 102): its key on the axis.
        common.run_cli(["org", "remote-signing", VPCP], vn.env)
        common.run_cli(["peer", "add", "VN", vn.url, "--national"], qn.env)
        qn_rt, vn_rt = build_runtime(qn.settings()), build_runtime(vn.settings())
        assert isinstance(qn_rt.keys, FileKeyStore)
        for code in SENDERS:
            qn_rt.keys.ensure_agency(code, f"Sở {code}")
        qn_db = make_session_factory(make_engine(qn.db.url))

        def queued() -> int:
            with qn_db() as session:
                return int(
                    session.scalar(
                        select(func.count()).select_from(Outbound).where(Outbound.state == "queued")
                    )
                    or 0
                )

        def queued_urgent() -> int:
            with qn_db() as session:
                return int(
                    session.scalar(
                        select(func.count())
                        .select_from(Outbound)
                        .where(Outbound.state == "queued", Outbound.priority >= 2)
                    )
                    or 0
                )

        def arrived_back() -> int:
            with qn_db() as session:
                return int(
                    session.scalar(
                        select(func.count())
                        .select_from(DeliveryStatus)
                        .where(DeliveryStatus.code == "01")
                    )
                    or 0
                )

        # ---- 1. live
        started = time.monotonic()
        take_in(qn, qn_rt, args.live, "live: taking in", 0)
        intake_s = time.monotonic() - started
        wait_until(lambda: queued() == 0, "live hand-overs", args.timeout)
        handed_s = time.monotonic() - started
        wait_until(lambda: arrived_back() >= args.live, "live 01s", args.timeout)
        back_s = time.monotonic() - started

        # ---- 2. drain
        vn.stop()
        console.print("the axis is down; queueing the backlog at H49 …")
        took = time.monotonic()
        take_in(qn, qn_rt, args.backlog, "backlog: taking in", args.live)
        queue_s = time.monotonic() - took
        assert queued() == args.backlog, queued()
        vn.start()
        cpu_qn0, cpu_vn0 = (
            common.cpu_seconds(qn.pid("worker")),
            common.cpu_seconds(vn.pid("server")),
        )
        clock = time.monotonic()
        urgent_s = drain_s = None
        while drain_s is None:
            if time.monotonic() - clock > args.timeout:
                raise RuntimeError("the backlog did not drain")
            if urgent_s is None and queued_urgent() == 0:
                urgent_s = time.monotonic() - clock
            if queued() == 0:
                drain_s = time.monotonic() - clock
            time.sleep(0.05)
        cpu_qn = common.cpu_seconds(qn.pid("worker")) - cpu_qn0
        cpu_vn = common.cpu_seconds(vn.pid("server")) - cpu_vn0
        wait_until(lambda: arrived_back() >= args.live + args.backlog, "backlog 01s", args.timeout)
        back_all_s = time.monotonic() - clock
        with qn_db() as session:
            shas = list(session.scalars(select(Outbound.blob_sha256).limit(200)))
            states = dict(
                session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()  # type: ignore[arg-type]
            )
        raw_ms = raw_handover_ms(qn_rt, vn_rt, shas)
        node_ms = (cpu_qn + cpu_vn) * 1000 / args.backlog

        table = Table(title="federation: H49 → VN over HTTP")
        table.add_column("measure")
        table.add_column("figure", justify="right")
        table.add_row(
            f"live: {args.live} taken in (this process, sign + intake)", f"{intake_s:.1f} s"
        )
        table.add_row(
            "live: all handed over, packages/s (from the first intake)",
            f"{args.live / handed_s:.0f}",
        )
        table.add_row("live: all 01 back, packages/s end to end", f"{args.live / back_s:.0f}")
        table.add_row(f"backlog: {args.backlog} queued while VN was down", f"{queue_s:.0f} s")
        table.add_row("drain: urgent (hỏa tốc) all handed over after", f"{urgent_s:.1f} s")
        table.add_row("drain: backlog handed over", f"{drain_s:.1f} s")
        table.add_row(
            "[bold]drain rate, packages/s (target ≥ 300)[/]",
            f"[bold]{args.backlog / drain_s:.0f}[/]",
        )
        table.add_row("drain: every 01 back at H49 after", f"{back_all_s:.1f} s")
        table.add_row(
            "CPU per package: H49 worker / VN server",
            f"{cpu_qn * 1000 / args.backlog:.1f} / {cpu_vn * 1000 / args.backlog:.1f} ms",
        )
        table.add_row(
            "baseline: raw hand-over (sign, verify, parse, XML-DSig, receipt), p50",
            f"{raw_ms:.2f} ms",
        )
        table.add_row("ratio node CPU / raw", f"{node_ms / raw_ms:.1f}×")
        table.add_row(
            "deliveries at H49 by state", ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
        )
        console.print(table)
        return 0
    finally:
        for node in (qn, vn):
            node.stop()
            if not args.keep:
                node.db.drop()
        if args.keep:
            console.print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
