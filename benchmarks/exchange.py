"""The document axis end to end over HTTP, against the raw cost of its XML pipeline.

    .venv/bin/python benchmarks/exchange.py [--count 2000] [--database postgresql|sqlite]
        [--concurrency 16] [--servers 1] [--workers 1] [--timeout 900] [--keep]
    .venv/bin/python benchmarks/exchange.py --big     # one package with a 200 MB attachment

Sets up its own throwaway database (PostgreSQL on 127.0.0.1 by default, or a SQLite file) and a
temporary folder (blobs, keys), runs `lienthong db upgrade` and `lienthong db seed`, issues keys
and software credentials to nine departments (000.00.02-10.H49), and starts `lienthong serve`
and `lienthong worker` as their own processes. Packages follow the message mix 2 KB 30 %, 10 KB
60 %, 100 KB 9 %, 2 MB 0.9 %, 10 MB 0.1 % (the size made up by a PDF-looking attachment), each
to one commune-level unit (000.00.43-96.H49). All are built and signed before the clock starts
(signing is the sender's work), then POSTed to /api/v1/documents by `--concurrency` httpx
clients; the clock stops when every delivery's status 01 is in the database, and the sender's
view (GET /api/v1/documents/sent) is checked afterwards.

Printed: packages/s end to end; p50/p99 of the POST; peak RSS (VmHWM) of the node's processes;
the node's CPU per package by stage (auth, parse, verify, sql, log, delivery, status_sign, and the
rest: HTTP and the framework), statements and commits per package (kernel/stages.py, asked of
each process by SIGUSR1 before and after the timed run);
the CPU the node spent per package (utime+stime of servers and workers) against the raw cost of
sign + parse + canonicalise + hash + verify of the same packages with the same keys, in this
process with no HTTP, database or disk (thread CPU time), and the ratio of the two. Targets:
>= 500 packages/s, node CPU <= 3x raw, < 100 MB server RSS growth for a 200 MB attachment.

`--big` POSTs one package carrying a 200 MB attachment, prints the server's RSS growth (VmHWM
after minus VmRSS before, the peak reset just before the upload when the kernel allows) and
checks that the attachment arrived (its sha256 in GET /api/v1/documents/{id}).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import _common as common  # the folder of this script is on sys.path when it is run
import httpx
from rich.console import Console
from rich.progress import track
from rich.table import Table
from sqlalchemy import Engine, create_engine, select, text

from lienthong.accounts import service as accounts
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.exchange.edxml.model import (
    Attachment,
    Business,
    DocumentPackage,
    ManifestEntry,
    Organization,
    TraceHeader,
)
from lienthong.exchange.edxml.reader import read
from lienthong.exchange.edxml.signature import sign, verify
from lienthong.exchange.edxml.stream import Limits
from lienthong.exchange.edxml.writer import write_document
from lienthong.exchange.routing import organization
from lienthong.exchange.spool import CHUNK
from lienthong.kernel.blobs import BlobRef
from lienthong.kernel.clock import LOCAL_ZONE
from lienthong.kernel.pki import FileKeyStore, SigningIdentity
from lienthong.registry.models import Agency

console = Console(width=None if sys.stdout.isatty() else 150)

KIB = 1024
MIB = 1024 * 1024
MIX: tuple[tuple[str, int, float], ...] = (
    ("2 KB", 2 * KIB, 0.30),
    ("10 KB", 10 * KIB, 0.60),
    ("100 KB", 100 * KIB, 0.09),
    ("2 MB", 2 * MIB, 0.009),
    ("10 MB", 10 * MIB, 0.001),
)
NODE_CODE = "H49"
SENDERS = tuple(f"000.00.{n:02d}.H49" for n in range(2, 11))
RECIPIENTS = tuple(f"000.00.{n:02d}.H49" for n in range(43, 97))
MIN_PAYLOAD = 256  # the smallest "PDF" attached when the signed envelope alone exceeds a class
BIG_BYTES = 200 * MIB
TARGET_RATE = 500.0
TARGET_RATIO = 3.0
TARGET_BIG_GROWTH_MIB = 100.0
MAX_COUNT = 50_000
ARRIVED_SQL = text("SELECT count(*) FROM delivery_status WHERE code = '01'")
DEAD_JOBS_SQL = text("SELECT count(*) FROM job WHERE status = 'dead'")


# ---------------------------------------------------------------- parties and packages


@dataclass(frozen=True)
class Sender:
    org: Organization
    identity: SigningIdentity
    headers: dict[str, str]

    @property
    def code(self) -> str:
        return self.org.organ_id


@dataclass
class Prepared:
    size_class: str
    sender: Sender
    body: bytes
    sign_cpu: float  # thread CPU seconds: writer twice, reference digest, RSA signature
    verify_cpu: float  # thread CPU seconds: parse + canonicalise + hash + verify


def class_counts(count: int) -> list[int]:
    """The mix applied to `count` packages, rounded by largest remainder."""
    exact = [count * share for _, _, share in MIX]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(MIX)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: count - sum(counts)]:
        counts[i] += 1
    return counts


def setup_parties(database_url: str, keys: FileKeyStore) -> tuple[list[Sender], list[Organization]]:
    """Keys for remote signing and software credentials for the senders; the recipients."""
    keys.ensure_ca(f"lienthong node {NODE_CODE} CA")
    engine = make_engine(database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            agencies = {
                a.code: a
                for a in session.scalars(
                    select(Agency).where(Agency.code.in_(SENDERS + RECIPIENTS))
                )
            }
            senders = []
            for code in SENDERS:
                agency = agencies[code]
                identity = keys.ensure_agency(code, agency.name)
                system_id, secret = accounts.issue_credential(
                    session, agency_code=code, seal=keys.secret_box().encrypt
                )
                token = base64.b64encode(f"{system_id}:{secret}".encode()).decode()
                senders.append(
                    Sender(organization(agency), identity, {"Authorization": f"Basic {token}"})
                )
            recipients = [
                organization(agencies[code])
                for code in RECIPIENTS
                if code in agencies
                and agencies[code].status == "active"
                and agencies[code].serving_node == NODE_CODE
            ]
    finally:
        engine.dispose()
    if len(recipients) != len(RECIPIENTS):
        console.print(
            f"[yellow]{len(RECIPIENTS) - len(recipients)} of the commune codes are not active "
            "local units in the seeded registry; using the others.[/]"
        )
    return senders, recipients


def make_package(
    sender: Organization, recipient: Organization, number: str, payload: BlobRef
) -> DocumentPackage:
    now = datetime.now(LOCAL_ZONE)
    notation = "BM-VP"
    return DocumentPackage(
        from_=sender,
        to=[recipient],
        document_id=f"{sender.organ_id},{now:%Y/%m/%d},{number}/{notation}",
        code_number=number,
        code_notation=notation,
        place="Quảng Ninh",
        promulgation_date=now.date(),
        type="1",
        type_detail="0",
        type_name="Công văn",
        subject=f"Về việc thử tải trục liên thông, văn bản số {number}",
        content="Đo thông lượng trục liên thông văn bản.",
        signer_full_name="Nguyễn Văn A",
        priority=0,
        steering_type="1",
        traces=[TraceHeader(sender.organ_id, now.strftime("%Y/%m/%d %H:%M:%S"))],
        business=Business(doc_type=0, reason="Văn bản điện tử mới", paper="0"),
        manifest=[ManifestEntry("cid:1", "application/pdf", "van-ban.pdf", "van-ban.pdf")],
        attachments=[Attachment("cid:1", "van-ban.pdf", "van-ban.pdf", "application/pdf", payload)],
    )


def signed_chunks(
    package: DocumentPackage, open_blob: Callable[[BlobRef], BinaryIO], identity: SigningIdentity
) -> Iterator[bytes]:
    return sign(lambda sig: write_document(package, open_blob=open_blob, signature=sig), identity)


def pdf_like(rng: random.Random, size: int) -> bytes:
    return b"%PDF-" + rng.randbytes(max(size - 5, 0))


def opener(payload: bytes) -> Callable[[BlobRef], BinaryIO]:
    def open_blob(_: BlobRef) -> BinaryIO:
        return io.BytesIO(payload)

    return open_blob


def in_chunks(body: bytes) -> Iterator[bytes]:
    """The body as the server hands it to the parser (spool.chunks)."""
    view = memoryview(body)
    for start in range(0, len(body), CHUNK):
        yield bytes(view[start : start + CHUNK])


def read_and_verify(body: bytes, keys: FileKeyStore) -> None:
    """Parse + canonicalise + hash + verify, in memory, attachments hashed but not stored."""
    result = read(in_chunks(body), blobs=None, limits=Limits(max_bytes=1 << 40))
    package = result.package
    if not isinstance(package, DocumentPackage) or package.signature is None:
        raise RuntimeError("the benchmark built an unsigned or non-document package")
    verify(
        package.signature,
        result.stream,
        sender_code=package.from_.organ_id,
        keys=keys,
        allow_sha1=False,
    )


def prepare(
    count: int,
    senders: Sequence[Sender],
    recipients: Sequence[Organization],
    keys: FileKeyStore,
    rng: random.Random,
    *,
    first_number: int,
    label: str,
) -> list[Prepared]:
    """Build, sign and (for the raw cost) read + verify `count` packages of the mix."""
    envelopes: dict[str, int] = {}
    for sender in senders:  # the signed package around a 5-byte "PDF"
        payload = b"%PDF-"
        ref = BlobRef(hashlib.sha256(payload).hexdigest(), len(payload))
        package = make_package(sender.org, recipients[0], "0", ref)
        body = b"".join(signed_chunks(package, opener(payload), sender.identity))
        envelopes[sender.code] = len(body) - len(base64.b64encode(payload))
    classes = [i for i, n in enumerate(class_counts(count)) for _ in range(n)]
    rng.shuffle(classes)
    out: list[Prepared] = []
    for offset, klass in enumerate(track(classes, description=label, console=console)):
        name, target, _ = MIX[klass]
        sender = senders[offset % len(senders)]
        recipient = rng.choice(recipients)
        size = max(MIN_PAYLOAD, (target - envelopes[sender.code]) * 3 // 4)
        payload = pdf_like(rng, size)
        ref = BlobRef(hashlib.sha256(payload).hexdigest(), len(payload))
        package = make_package(sender.org, recipient, str(first_number + offset), ref)
        started = time.thread_time()
        body = b"".join(signed_chunks(package, opener(payload), sender.identity))
        signed_at = time.thread_time()
        read_and_verify(body, keys)
        verified_at = time.thread_time()
        out.append(Prepared(name, sender, body, signed_at - started, verified_at - signed_at))
    return out


# ---------------------------------------------------------------- sending and waiting


@dataclass
class Outcome:
    index: int
    status: int  # 0: no HTTP answer
    seconds: float
    document_pk: int | None = None
    error: str | None = None


def send_all(
    prepared: Sequence[Prepared], urls: Sequence[str], concurrency: int, timeout: float
) -> list[Outcome]:
    """POST every package; one keep-alive httpx client per thread and server."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def client_for(url: str) -> httpx.Client:
        cache: dict[str, httpx.Client] | None = getattr(local, "clients", None)
        if cache is None:
            cache = local.clients = {}
        if url not in cache:
            cache[url] = httpx.Client(base_url=url, timeout=timeout)
            with lock:
                clients.append(cache[url])
        return cache[url]

    def one(index: int) -> Outcome:
        item = prepared[index]
        client = client_for(urls[index % len(urls)])
        started = time.perf_counter()
        try:
            response = client.post(
                "/api/v1/documents",
                content=item.body,
                headers={**item.sender.headers, "Content-Type": "application/xml"},
            )
        except httpx.HTTPError as exc:
            return Outcome(
                index, 0, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}"
            )
        elapsed = time.perf_counter() - started
        if response.status_code != 202:
            return Outcome(index, response.status_code, elapsed, error=response.text[:400])
        answer: dict[str, Any] = response.json()
        results = [r.get("result") for r in answer.get("recipients", [])]
        if results != ["accepted"] or response.headers.get("X-Lienthong-Repeat"):
            return Outcome(index, 202, elapsed, error=f"not accepted as new: {answer}"[:400])
        return Outcome(index, 202, elapsed, document_pk=int(answer["id"]))

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="client") as pool:
            return list(pool.map(one, range(len(prepared))))
    finally:
        for client in clients:
            client.close()


def arrived_count(engine: Engine) -> tuple[int, int]:
    """(status-01 rows, dead jobs), read without taking SQLite's write lock (a plain engine,
    not lienthong's, which begins every transaction IMMEDIATE)."""
    with engine.connect() as conn:
        arrived: int = conn.execute(ARRIVED_SQL).scalar_one()
        dead: int = conn.execute(DEAD_JOBS_SQL).scalar_one()
    return int(arrived), int(dead)


def wait_for_arrivals(
    engine: Engine, expected: int, deadline: float, nodes: Sequence[common.NodeProcess]
) -> tuple[int, int, float | None]:
    """Poll until `expected` status-01 rows exist; (arrived, dead jobs, perf_counter when seen
    or None on timeout, a dead job or a process gone)."""
    while True:
        arrived, dead = arrived_count(engine)
        if arrived >= expected:
            return arrived, dead, time.perf_counter()
        if dead or time.monotonic() > deadline or not all(n.alive() for n in nodes):
            return arrived, dead, None
        time.sleep(0.05)


def check_sent_views(
    url: str, senders: Sequence[Sender], expected: dict[str, set[int]], timeout: float
) -> tuple[int, list[str]]:
    """Each sender's GET /api/v1/documents/sent: every document delivered with status 01."""
    good = 0
    problems: list[str] = []
    with httpx.Client(base_url=url, timeout=timeout) as client:
        for sender in senders:
            wanted = expected.get(sender.code, set())
            seen: set[int] = set()
            page = 1
            while wanted - seen:
                response = client.get(
                    "/api/v1/documents/sent",
                    params={"agency": sender.code, "page_size": 200, "page": page},
                    headers=sender.headers,
                )
                if response.status_code != 200:
                    problems.append(f"{sender.code} sent page {page}: HTTP {response.status_code}")
                    break
                data = response.json()
                for item in data["items"]:
                    if item["id"] not in wanted:
                        continue
                    seen.add(item["id"])
                    states = [(r["state"], r["status_code"]) for r in item["recipients"]]
                    if states == [("delivered", "01")]:
                        good += 1
                    elif len(problems) < 10:
                        problems.append(f"document {item['id']}: {states}")
                if page * 200 >= data["total"]:
                    break
                page += 1
            if wanted - seen:
                problems.append(f"{sender.code}: {len(wanted - seen)} documents not listed")
    return good, problems


# ---------------------------------------------------------------- reporting


def verdict(met: bool) -> str:
    return "[bold green]met[/]" if met else "[bold red]not met[/]"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def print_errors(outcomes: Sequence[Outcome], prepared: Sequence[Prepared]) -> int:
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        by_status: dict[int, int] = {}
        for o in failed:
            by_status[o.status] = by_status.get(o.status, 0) + 1
        console.print(
            f"[red]{len(failed)} of {len(outcomes)} POSTs failed[/] "
            f"(by HTTP status, 0 = no answer: {by_status}); the first few:"
        )
        for o in failed[:5]:
            item = prepared[o.index]
            console.print(
                f"  #{o.index} {item.size_class} from {item.sender.code}: {o.status} {o.error}",
                markup=False,
            )
    return len(failed)


@dataclass
class Snapshot:
    cpu: dict[int, float] = field(default_factory=dict)
    postgres: float | None = None
    client: float = 0.0


def snapshot(nodes: Sequence[common.NodeProcess], with_postgres: bool) -> Snapshot:
    return Snapshot(
        {n.pid: common.cpu_seconds(n.pid) for n in nodes},
        common.postgres_cpu_seconds() if with_postgres else None,
        time.process_time(),
    )


# ---------------------------------------------------------------- the two modes


@dataclass
class Run:
    args: argparse.Namespace
    folder: Path
    database: common.ThrowawayDatabase
    env: dict[str, str]
    keys: FileKeyStore
    senders: list[Sender]
    recipients: list[Organization]
    rng: random.Random
    nodes: list[common.NodeProcess] = field(default_factory=list)

    @property
    def stage_prefix(self) -> Path:
        return self.folder / "stages"

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes if n.url]

    @property
    def servers(self) -> list[common.NodeProcess]:
        return [n for n in self.nodes if n.url]

    @property
    def workers(self) -> list[common.NodeProcess]:
        return [n for n in self.nodes if not n.url]


def send_and_wait(
    run: Run, prepared: Sequence[Prepared], poll: Engine, label: str
) -> tuple[list[Outcome], float, float | None, int, int]:
    """(outcomes, POST phase seconds, seconds until all 01 seen or None, arrived, dead)."""
    base, _ = arrived_count(poll)
    started = time.perf_counter()
    outcomes = send_all(prepared, run.urls, run.args.concurrency, run.args.http_timeout)
    posted = time.perf_counter() - started
    accepted = sum(1 for o in outcomes if o.document_pk is not None)
    deadline = time.monotonic() + run.args.timeout
    with console.status(f"{label}: waiting for {accepted} deliveries to answer 01…"):
        arrived, dead, seen = wait_for_arrivals(poll, base + accepted, deadline, run.nodes)
    return outcomes, posted, (seen - started) if seen else None, arrived - base, dead


def run_mix(run: Run) -> bool:
    args = run.args
    warm = prepare(
        args.warmup,
        run.senders,
        run.recipients,
        run.keys,
        run.rng,
        first_number=1,
        label="warm-up packages",
    )
    prepared = prepare(
        args.count,
        run.senders,
        run.recipients,
        run.keys,
        run.rng,
        first_number=100_000,
        label="building and signing",
    )
    run.nodes = common.start_node(run.folder, run.env, servers=args.servers, workers=args.workers)
    is_pg = args.database == "postgresql"
    poll = create_engine(run.database.url)
    try:
        warm_out, _, warm_seen, _, _ = send_and_wait(run, warm, poll, "warm-up")
        if print_errors(warm_out, warm) or warm_seen is None:
            console.print("[red]The warm-up did not go through; the timed run would not either.[/]")
            for node in run.nodes:
                console.print(f"--- {node.role} log tail ---\n{node.log_tail()}", markup=False)
            return False
        stages_before = common.stage_snapshot(run.nodes, run.stage_prefix, 1)
        before = snapshot(run.nodes, is_pg)
        outcomes, posted, elapsed, arrived, dead = send_and_wait(run, prepared, poll, "timed run")
        after = snapshot(run.nodes, is_pg)
        stages_after = common.stage_snapshot(run.nodes, run.stage_prefix, 2)
        peaks = {n.pid: common.status_kib(n.pid, "VmHWM") for n in run.nodes}
    finally:
        poll.dispose()
    errors = print_errors(outcomes, prepared)
    accepted = [o for o in outcomes if o.document_pk is not None]
    expected: dict[str, set[int]] = {}
    for o in accepted:
        assert o.document_pk is not None
        expected.setdefault(prepared[o.index].sender.code, set()).add(o.document_pk)
    good, problems = check_sent_views(run.urls[0], run.senders, expected, args.http_timeout)
    for problem in problems[:5]:
        console.print(f"[red]sent view:[/] {problem}", markup=True)
    if dead:
        console.print(f"[red]{dead} delivery jobs are dead (see the worker log).[/]")
        for node in run.workers:
            console.print(f"--- {node.role} log tail ---\n{node.log_tail()}", markup=False)
    if elapsed is None:
        console.print(
            f"[red]Only {arrived} of {len(accepted)} deliveries answered 01 within "
            f"{args.timeout:.0f} s (or a process stopped).[/]"
        )

    n = len(prepared)
    latencies = [o.seconds for o in outcomes if o.error is None]
    rate = len(accepted) / elapsed if elapsed else 0.0
    raw = sum(p.sign_cpu + p.verify_cpu for p in prepared) / n
    raw_sign = sum(p.sign_cpu for p in prepared) / n
    raw_verify = sum(p.verify_cpu for p in prepared) / n
    server_cpu = sum(after.cpu[s.pid] - before.cpu[s.pid] for s in run.servers)
    worker_cpu = sum(after.cpu[w.pid] - before.cpu[w.pid] for w in run.workers)
    node_per = (server_cpu + worker_cpu) / max(len(accepted), 1)
    ratio = node_per / raw if raw else float("nan")

    classes = Table(title="Packages by class (timed run)")
    for column in ("class", "count", "mean size", "POST p50", "POST p99", "raw CPU / pkg"):
        classes.add_column(column, justify="right")
    for name, _, share in MIX:
        members = [i for i, p in enumerate(prepared) if p.size_class == name]
        if not members:
            classes.add_row(f"{name} ({share:.1%})", "0", "—", "—", "—", "—")
            continue
        lat = [outcomes[i].seconds for i in members if outcomes[i].error is None]
        size = sum(len(prepared[i].body) for i in members) / len(members)
        cpu = sum(prepared[i].sign_cpu + prepared[i].verify_cpu for i in members) / len(members)
        classes.add_row(
            f"{name} ({share:.1%})",
            str(len(members)),
            f"{size / KIB:,.1f} KiB",
            ms(common.percentile(lat, 50)),
            ms(common.percentile(lat, 99)),
            ms(cpu),
        )
    console.print(classes)
    smallest = min(len(p.body) for p in prepared)
    if smallest > MIX[0][1]:
        console.print(
            f"Note: the smallest signed package is {smallest / KIB:.1f} KiB (the Signature carries "
            f"the 2-certificate chain), so the 2 KB class is {smallest / KIB:.1f} KiB here."
        )

    table = Table(title="lienthong exchange benchmark", show_lines=True)
    table.add_column("measure")
    table.add_column("figure")
    table.add_column("target")
    table.add_column("verdict")
    table.add_row("machine", common.machine(), "", "")
    table.add_row("database", run.database.label, "", "")
    table.add_row(
        "set-up",
        f"{args.servers} × lienthong serve, {args.workers} × lienthong worker, "
        f"{args.concurrency} concurrent httpx clients in this process (same machine); "
        f"{args.warmup} warm-up packages not counted",
        "",
        "",
    )
    total_bytes = sum(len(p.body) for p in prepared)
    table.add_row(
        "packages",
        f"{n} ({total_bytes / MIB:,.1f} MiB); {len(accepted)} accepted, {errors} failed POSTs; "
        f"{arrived} status 01 rows; sent view: {good}/{len(accepted)} delivered + 01"
        + (f", {dead} dead jobs" if dead else ""),
        "all",
        verdict(errors == 0 and good == len(accepted) == n and not dead),
    )
    table.add_row(
        "throughput end to end",
        f"{rate:,.1f} packages/s ({len(accepted)} in {elapsed:.2f} s; POSTs done after {posted:.2f} s)"
        if elapsed
        else f"did not finish ({arrived}/{len(accepted)} arrived)",
        f"≥ {TARGET_RATE:.0f} packages/s",
        verdict(rate >= TARGET_RATE),
    )
    table.add_row(
        "intake latency (POST)",
        f"p50 {ms(common.percentile(latencies, 50))} · p99 {ms(common.percentile(latencies, 99))}"
        f" · max {ms(max(latencies, default=float('nan')))}",
        "",
        "",
    )
    table.add_row(
        "peak RSS (VmHWM)",
        " · ".join(f"{node.role} {mib(peaks[node.pid])}" for node in run.nodes),
        "",
        "",
    )
    table.add_row(
        "raw pipeline CPU / package",
        f"{ms(raw)} = sign {ms(raw_sign)} + parse/c14n/hash/verify {ms(raw_verify)} "
        "(in-process, same packages and keys)",
        "",
        "",
    )
    table.add_row(
        "node CPU / package",
        f"{ms(node_per)} = servers {ms(server_cpu / max(len(accepted), 1))} + workers "
        f"{ms(worker_cpu / max(len(accepted), 1))} (utime+stime)",
        "",
        "",
    )
    table.add_row(
        "node CPU / raw CPU",
        f"{ratio:.2f}×",
        f"≤ {TARGET_RATIO:.0f}×",
        verdict(ratio <= TARGET_RATIO),
    )
    info = f"client process {ms((after.client - before.client) / n)} / package"
    if after.postgres is not None and before.postgres is not None:
        info += (
            f" · PostgreSQL server {ms((after.postgres - before.postgres) / n)} / package "
            "(all its databases)"
        )
    table.add_row("other CPU (information)", info, "", "")
    console.print(table)
    console.print(
        stage_table(stages_before, stages_after, run, max(len(accepted), 1), raw_sign, raw_verify)
    )
    return errors == 0 and elapsed is not None


def stage_table(
    before: dict[int, dict[str, Any]],
    after: dict[int, dict[str, Any]],
    run: Run,
    packages: int,
    raw_sign: float,
    raw_verify: float,
) -> Table:
    """Node CPU per package by stage (kernel/stages.py), servers and workers apart."""
    servers = common.stage_breakdown(before, after, [s.pid for s in run.servers])
    workers = common.stage_breakdown(before, after, [w.pid for w in run.workers])
    table = Table(
        title="Node CPU per package by stage (thread CPU, each stage without those inside it)"
    )
    for column in ("stage", "servers", "workers", "raw, same packages"):
        table.add_column(column, justify="right")
    raw = {
        "parse": "",
        "verify": f"{ms(raw_verify)} (parse+c14n+hash+verify)",
        "status_sign": f"{ms(raw_sign)} (a package's signing)",
    }
    for name in (*common.STAGES, "other"):
        label = "other (HTTP, framework, JSON …)" if name == "other" else name
        table.add_row(
            label, ms(servers[name] / packages), ms(workers[name] / packages), raw.get(name, "")
        )
    for name in ("statements", "commits"):
        table.add_row(
            f"{name} / package",
            f"{servers[name] / packages:.2f}",
            f"{workers[name] / packages:.2f}",
            "",
        )
    return table


def run_big(run: Run) -> bool:
    args = run.args
    payload_path = run.folder / "big.pdf"
    package_path = run.folder / "big.edxml"
    digest = hashlib.sha256()
    with payload_path.open("wb") as handle:
        head = b"%PDF-"
        handle.write(head)
        digest.update(head)
        left = BIG_BYTES - len(head)
        while left:
            block = run.rng.randbytes(min(left, MIB))
            handle.write(block)
            digest.update(block)
            left -= len(block)
    ref = BlobRef(digest.hexdigest(), BIG_BYTES)
    sender = run.senders[0]
    package = make_package(sender.org, run.recipients[0], "200", ref)
    with console.status("signing the 200 MB package…"):
        started = time.perf_counter()
        with package_path.open("wb") as out:
            for chunk in signed_chunks(package, lambda _: payload_path.open("rb"), sender.identity):
                out.write(chunk)
        signing = time.perf_counter() - started
    size = package_path.stat().st_size
    warm = prepare(
        5, run.senders, run.recipients, run.keys, run.rng, first_number=1, label="warm-up packages"
    )
    run.nodes = common.start_node(run.folder, run.env, servers=1, workers=args.workers)
    server = run.servers[0]
    poll = create_engine(run.database.url)
    try:
        warm_out, _, warm_seen, _, _ = send_and_wait(run, warm, poll, "warm-up")
        if print_errors(warm_out, warm) or warm_seen is None:
            console.print("[red]The warm-up did not go through.[/]")
            return False
        rss_before = common.status_kib(server.pid, "VmRSS")
        hwm_before = common.status_kib(server.pid, "VmHWM")
        reset = common.reset_peak_rss(server.pid)

        def body() -> Iterator[bytes]:
            with package_path.open("rb") as handle:
                while block := handle.read(MIB):
                    yield block

        base, _ = arrived_count(poll)
        started = time.perf_counter()
        with httpx.Client(base_url=server.url or "", timeout=args.http_timeout) as client:
            response = client.post(
                "/api/v1/documents",
                content=body(),
                headers={**sender.headers, "Content-Type": "application/xml"},
            )
            posted = time.perf_counter() - started
            hwm_after = common.status_kib(server.pid, "VmHWM")
            if response.status_code != 202:
                console.print(
                    f"[red]POST answered {response.status_code}:[/] {response.text[:500]}"
                )
                return False
            document_pk = int(response.json()["id"])
            arrived, dead, seen = wait_for_arrivals(
                poll, base + 1, time.monotonic() + args.timeout, run.nodes
            )
            detail = client.get(f"/api/v1/documents/{document_pk}", headers=sender.headers).json()
    finally:
        poll.dispose()
    attachments = detail.get("attachments", [])
    arrived_ok = (
        bool(attachments)
        and attachments[0]["sha256"] == ref.sha256
        and attachments[0]["size"] == BIG_BYTES
    )
    status = [r["status_code"] for r in detail.get("recipients", [])]
    growth = (hwm_after - rss_before) / 1024
    table = Table(title="lienthong exchange benchmark: one 200 MB attachment", show_lines=True)
    for column in ("measure", "figure", "target", "verdict"):
        table.add_column(column)
    table.add_row("machine", common.machine(), "", "")
    table.add_row("database", run.database.label, "", "")
    table.add_row(
        "package",
        f"{size / MIB:,.1f} MiB on the wire (attachment {BIG_BYTES / MIB:.0f} MiB, base64); "
        f"signed by the client in {signing:.1f} s",
        "",
        "",
    )
    table.add_row(
        "POST",
        f"{posted:.1f} s ({size / MIB / posted:,.1f} MiB/s); status 01 "
        + (
            f"after {seen - started:.1f} s"
            if seen
            else f"not seen ({arrived} arrived, {dead} dead)"
        ),
        "",
        "",
    )
    table.add_row(
        "server RSS growth",
        f"{growth:,.1f} MiB = VmHWM after {mib(hwm_after)} − VmRSS before {mib(rss_before)}"
        + ("" if reset else f" (peak not reset: VmHWM before was {mib(hwm_before)})"),
        f"< {TARGET_BIG_GROWTH_MIB:.0f} MB",
        verdict(growth < TARGET_BIG_GROWTH_MIB),
    )
    table.add_row(
        "attachment arrived",
        f"sha256 {attachments[0]['sha256'][:16]}…, {attachments[0]['size']:,} bytes; recipient "
        f"status {status}"
        if attachments
        else "no attachment listed",
        f"sha256 {ref.sha256[:16]}…",
        verdict(arrived_ok and status == ["01"]),
    )
    console.print(table)
    return arrived_ok and growth < TARGET_BIG_GROWTH_MIB


# ---------------------------------------------------------------- entry point


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000, help="timed packages (default 2000)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed packages first")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg-admin-url", default=common.PG_ADMIN_URL)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for 01s")
    parser.add_argument("--http-timeout", type=float, default=300)
    parser.add_argument("--seed", type=int, default=49)
    parser.add_argument("--big", action="store_true", help="one 200 MB attachment instead")
    parser.add_argument("--keep", action="store_true", help="keep the folder and the database")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= MAX_COUNT:
        parser.error(f"--count must be within 1..{MAX_COUNT}")
    if not 1 <= args.warmup <= 1000:
        parser.error("--warmup must be within 1..1000")
    if (
        not 1 <= args.concurrency <= 256
        or not 1 <= args.servers <= 16
        or not 1 <= args.workers <= 16
    ):
        parser.error("--concurrency 1..256, --servers 1..16, --workers 1..16")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="lienthong-bench-"))
    database: common.ThrowawayDatabase | None = None
    run: Run | None = None
    try:
        database = common.create_database(args.database, folder, admin_url=args.pg_admin_url)
        console.print(f"[bold]lienthong exchange benchmark[/] · {database.label} · folder {folder}")
        env = common.lienthong_env(
            folder, database.url, LIENTHONG_STAGE_REPORT=str(folder / "stages")
        )
        with console.status("lienthong db upgrade, db seed…"):
            common.run_cli(["db", "upgrade"], env)
            common.run_cli(["db", "seed"], env)
        keys = FileKeyStore(folder / "keys")
        senders, recipients = setup_parties(database.url, keys)
        run = Run(args, folder, database, env, keys, senders, recipients, random.Random(args.seed))
        ok = run_big(run) if args.big else run_mix(run)
        return 0 if ok else 1
    finally:
        if run is not None:
            common.stop_all(run.nodes)
        if args.keep:
            console.print(
                f"Kept: folder {folder}" + (f", database {database.url}" if database else "")
            )
        else:
            if database is not None:
                database.drop()
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
