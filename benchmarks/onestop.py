"""One-stop services at scale: the public dossier look-up and the KPI endpoint over 1,000,000
dossiers on PostgreSQL.

    .venv/bin/python benchmarks/onestop.py [--count 1000000] [--requests 2000] [--clients 8]
        [--keep] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/NAME]

Without `--database-url` it creates a throwaway PostgreSQL database (127.0.0.1, trust auth),
runs `lienthong db upgrade`, `lienthong db seed` and `lienthong onestop import` (the 30 seeded
procedures), then generates `--count` dossiers with psycopg COPY (a Rich progress bar): ~2 years
of days, the 54 commune-level units (000.00.43-96.H49) and the provincial agencies that
implement procedures, codes `<agency>-<yyMMdd>-<NNNN>` numbered per agency and day with the
matching `dossier_counter` rows, a realistic status mix (most returned, some open 2/4/5, some
overdue, a few refused/withdrawn/stopped), 2-4 `dossier_event` rows each (the public timeline;
a dossier submitted online and not yet received has one), and `kpi_count` rows aggregated from
the same dossiers. A few dossiers are then filed and moved through the real service path
(`service.file_dossier` + `processing.act`) to show that codes and counters carry on from the bulk data,
and the tables are VACUUM ANALYZEd. With `--database-url` an existing database is reused
(generation is skipped when it already holds >= `--count` dossiers; it is never dropped).

`lienthong serve` then runs as its own process (LOG_LEVEL=WARNING, look-up rate limit lifted)
and is measured over keep-alive HTTP with httpx:
  - GET /api/v1/onestop/lookup/{code}: `--requests` random existing codes sequentially, and as
    many with `--clients` concurrent clients (p50/p95/p99, req/s); unknown codes (404) and
    malformed ones (422);
  - GET /api/v1/onestop/kpis: one agency over one year, one agency over all time, all agencies
    over one year, 50 requests each (p50/p99);
against in-process baselines without HTTP: the same service call (ORM, a session per call) and
the same SQL statements replayed on a bare DBAPI connection. Targets: look-up p99 < 20 ms, KPI
endpoint < 200 ms; figures are printed next to them with the machine and the database, and an
EXPLAIN ANALYZE of the statements of any request type that misses its target.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import io
import queue
import random
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import _common as common  # the folder of this script is on sys.path when it is run
import httpx
import psycopg
from psycopg import sql as pgsql
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import Engine, event, select, text
from sqlalchemy.engine import make_url

from lienthong.accounts import service as accounts
from lienthong.accounts.models import Role
from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.kernel.blobs import FileBlobStore
from lienthong.kernel.clock import LOCAL_ZONE, local_today
from lienthong.onestop import kpis, processing, queries, service
from lienthong.onestop.calendar import WorkingCalendar
from lienthong.onestop.models import DossierCounter, Procedure
from lienthong.registry import service as registry
from lienthong.registry.models import Agency

console = Console(width=None if sys.stdout.isatty() else 150)

TARGET_LOOKUP_P99 = 0.020
TARGET_KPI = 0.200
COMMUNES = tuple(f"000.00.{n:02d}.H49" for n in range(43, 97))
DAYS = 730
CHUNK = 10_000  # dossiers per COPY batch
KPI_ROUNDS = 50
# Untimed KPI requests first: enough for every pooled connection of the server to have prepared
# the statements (psycopg prepares after 5 runs; PostgreSQL may then switch to a generic plan),
# so that the 50 timed ones show the steady state.
KPI_WARMUP = 60
SPECIAL_SAMPLES = 200
WARMUP = 200
BIRTH = "1.001193"  # Đăng ký khai sinh: commune level, no fee, three required papers
PDF = b"%PDF-1.4\n%%EOF\n"
RECEPTION = service.RECEPTION
CITIZEN = "Công dân"
NULL = "\\N"

# Shares of the fates of a dossier (of those received) and of the channels per online level.
REFUSED_SHARE = 0.025  # online and post submissions refused at reception
WITHDRAWN_SHARE = 0.004
STOPPED_SHARE = 0.003
STUCK_SHARE = 0.01  # of the last 180 days: still open long past the deadline
NOT_COLLECTED_SHARE = 0.007  # result ready, never collected (status 9)
CHANNELS = {
    "toan_trinh": (("online", 0.70), ("counter", 0.27), ("post", 0.03)),
    "mot_phan": (("online", 0.45), ("counter", 0.50), ("post", 0.05)),
}
FIELD_WEIGHTS = {"ho_tich": 6.0, "dat_dai": 3.0, "dang_ky_kinh_doanh": 2.0, "xay_dung": 1.5}
FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Ngọc", "Thu", "Hữu", "Quang", "Thanh", "Kim")
GIVEN = (
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hòa",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phong",
    "Phương",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tuấn",
    "Việt",
    "Yến",
    "Thắng",
    "Hiếu",
    "Ngân",
    "Vy",
    "Khôi",
    "Đạt",
    "Huy",
    "Tú",
    "Loan",
)
TRADES = ("Thương mại", "Xây dựng", "Vận tải", "Du lịch", "Thủy sản", "Dịch vụ", "Than", "Cơ khí")
REASONS = {
    "refuse": "Hồ sơ không thuộc thẩm quyền giải quyết",
    "request_supplement": "Bổ sung bản sao giấy tờ tùy thân còn hiệu lực",
    "stop": "Người nộp không bổ sung hồ sơ trong thời hạn",
}
DOSSIER_COLUMNS = (
    "id, code, procedure_id, agency_id, channel, applicant_kind, applicant_name, "
    "applicant_id_number, applicant_phone, applicant_email, applicant_address, status, "
    "created_at, received_at, due_at, finished_at, returned_at, outcome, step, fee_vnd, "
    "payment_state, paid_online, digitised, reason"
)
SETVAL = pgsql.SQL(
    "SELECT setval(pg_get_serial_sequence({name}, 'id'), "
    "(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
)
SEQUENCED = ("dossier", "dossier_event", "dossier_pause", "kpi_count")
EVENT_COLUMNS = "id, dossier_id, at, action, status, unit"
PAUSE_COLUMNS = "id, dossier_id, started_at, ended_at, reason"


class BenchmarkTimeout(Exception):
    pass


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def verdict(met: bool) -> str:
    return "[bold green]met[/]" if met else "[bold red]not met[/]"


def psycopg_conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def ts(moment: datetime | None) -> str:
    return NULL if moment is None else moment.isoformat(" ")


# ---------------------------------------------------------------- the catalogue in the database


@dataclass
class Proc:
    id: int
    code: str
    field: str
    level: str
    agency_id: int | None
    online_level: str
    fee: int
    business: bool
    orm: Procedure


@dataclass
class Unit:
    id: int
    code: str
    name: str
    weight: float
    procs: list[Proc] = field(default_factory=list)
    cumulative: list[float] = field(default_factory=list)

    def pick(self, rng: random.Random) -> Proc:
        x = rng.random() * self.cumulative[-1]
        return self.procs[bisect.bisect_right(self.cumulative, x)]


def load_units(engine: Engine, rng: random.Random) -> list[Unit]:
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        procedures = list(session.scalars(select(Procedure).where(Procedure.active.is_(True))))
        for p in procedures:
            session.expunge(p)
        wanted_ids = {p.agency_id for p in procedures if p.agency_id is not None}
        agencies = list(
            session.scalars(
                select(Agency).where(
                    Agency.code.in_(COMMUNES) | Agency.id.in_(wanted_ids),
                    Agency.status == "active",
                )
            )
        )
    procs = [
        Proc(
            p.id,
            p.code,
            p.field,
            p.level,
            p.agency_id,
            p.online_level,
            p.fee_vnd,
            p.field == "dang_ky_kinh_doanh" and p.level == "province",
            p,
        )
        for p in procedures
    ]
    commune_procs = [p for p in procs if p.level == "commune"]
    units: list[Unit] = []
    for agency in sorted(agencies, key=lambda a: a.code):
        if agency.code in COMMUNES:
            own = commune_procs
            weight = rng.lognormvariate(0, 0.4) * (1.4 if agency.kind == "ward" else 1.0)
        else:
            own = [p for p in procs if p.agency_id == agency.id]
            weight = 1.2 * len(own)
        if not own:
            continue
        unit = Unit(agency.id, agency.code, agency.short_name or agency.name, weight, own)
        total = 0.0
        for proc in own:
            total += FIELD_WEIGHTS.get(proc.field, 1.0)
            unit.cumulative.append(total)
        units.append(unit)
    if sum(1 for u in units if u.code in COMMUNES) != len(COMMUNES):
        console.print("[yellow]Not every commune-level unit 000.00.43-96.H49 is active here.[/]")
    return units


# ---------------------------------------------------------------- generation


@dataclass
class Cell:
    day: date
    unit: Unit
    count: int


def allocate(
    units: Sequence[Unit], cal: WorkingCalendar, now: datetime, count: int, rng: random.Random
) -> tuple[list[Cell], datetime]:
    """`count` dossiers over the last DAYS days (today up to now) and the units, by weight:
    working days 1, days off 0.1 (online only), a growth of 1.5x over the period."""
    today = now.date()
    day_start = datetime(today.year, today.month, today.day, tzinfo=LOCAL_ZONE)
    cap = now - timedelta(minutes=1)
    today_share = max(0.0, (cap - day_start).total_seconds() / 86400)
    weights: list[tuple[date, Unit, float]] = []
    for i in range(DAYS):
        day = today - timedelta(days=DAYS - 1 - i)
        base = (1.0 if cal.is_working_day(day) else 0.1) * (0.75 + 0.5 * i / (DAYS - 1))
        if day == today:
            base *= today_share
        if base <= 0:
            continue
        for unit in units:
            weights.append((day, unit, base * unit.weight * rng.uniform(0.7, 1.3)))
    total = sum(w for _, _, w in weights)
    cells = []
    for day, unit, w in weights:
        expected = count * w / total
        n = int(expected)
        if rng.random() < expected - n:
            n += 1
        cells.append(Cell(day, unit, n))
    difference = count - sum(c.count for c in cells)
    while difference:
        cell = rng.choice(cells)
        if difference > 0:
            cell.count += 1
            difference -= 1
        elif cell.count > 0:
            cell.count -= 1
            difference += 1
    return [c for c in cells if c.count], cap


@dataclass
class GenStats:
    dossiers: int = 0
    events: int = 0
    pauses: int = 0
    kpi_rows: int = 0
    counter_rows: int = 0
    seconds: float = 0.0
    first_day: date | None = None
    last_day: date | None = None


class Generator:
    """Builds the COPY text of the dossiers, their events and pauses, cell by cell, and keeps the
    counters and KPI counts they imply."""

    def __init__(
        self, cal: WorkingCalendar, now: datetime, cap: datetime, rng: random.Random, first_id: int
    ) -> None:
        self.cal = cal
        self.now = now
        self.cap = cap
        self.rng = rng
        self.dossier_id = first_id
        self.event_id = 1
        self.pause_id = 1
        self.counters: dict[tuple[int, date], int] = {}
        self.kpi: dict[tuple[int, date, str], int] = {}
        self.dossiers: list[str] = []
        self.events: list[str] = []
        self.pauses: list[str] = []
        self.names = [f"{f} {m} {g}" for f in FAMILY for m in MIDDLE for g in GIVEN]
        self.recent = now - timedelta(days=180)
        self.working: dict[date, bool] = {}

    def bump(self, agency_id: int, at: datetime, measure: str) -> None:
        key = (agency_id, at.date(), measure)
        self.kpi[key] = self.kpi.get(key, 0) + 1

    def moment(self, day: date, channel: str, working: bool) -> tuple[datetime, str]:
        rng = self.rng
        if channel == "online" or not working:
            seconds = 6 * 3600 + int(rng.random() * 17 * 3600)
            channel = "online"
        else:  # within the sessions 07:00-11:30 and 13:30-17:00
            s = rng.randrange(480 * 60)
            seconds = 7 * 3600 + s if s < 270 * 60 else 13 * 3600 + 1800 + s - 270 * 60
        start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_ZONE)
        at = start + timedelta(seconds=seconds)
        if at >= self.cap:  # today: before now
            at = start + timedelta(seconds=int(rng.random() * (self.cap - start).total_seconds()))
            if channel != "online" and not self.cal.is_working_time(at):
                channel = "online"
        return at, channel

    def cell(self, cell: Cell) -> None:
        rng = self.rng
        unit = cell.unit
        working = self.working.get(cell.day)
        if working is None:
            working = self.working[cell.day] = self.cal.is_working_day(cell.day)
        planned = []
        for _ in range(cell.count):
            proc = unit.pick(rng)
            x = rng.random()
            channel = next(
                (c for c, share in CHANNELS[proc.online_level] if (x := x - share) < 0), "online"
            )
            at, channel = self.moment(cell.day, channel, working)
            planned.append((at, proc, channel))
        planned.sort(key=lambda item: item[0])
        prefix = f"{unit.code}-{cell.day:%y%m%d}-"
        for number, (at, proc, channel) in enumerate(planned, start=1):
            self.dossier(unit, proc, channel, at, f"{prefix}{number:04d}")
        self.counters[(unit.id, cell.day)] = cell.count

    def dossier(self, unit: Unit, proc: Proc, channel: str, created: datetime, code: str) -> None:
        rng = self.rng
        cal = self.cal
        now = self.now
        did = self.dossier_id
        self.dossier_id += 1
        fee = proc.fee
        status = 1
        received = due = finished = returned = None
        outcome = reason = None
        step = 0
        pay_state = "pending" if fee else "none"
        paid_online = False
        digitised = channel == "online" or rng.random() < (0.5 if channel == "counter" else 0.3)
        events: list[tuple[datetime, str, int, str | None]] = [
            (created, "submitted", 1, RECEPTION if channel == "counter" else CITIZEN)
        ]
        pause: tuple[datetime, str] | None = None
        if channel == "counter":
            arrival = created
        else:
            arrival = cal.add_working_hours(created, 0.1 + 5.9 * rng.random() ** 2)
        if arrival > now:
            pass  # submitted online, not yet received: status 1, one event
        elif channel != "counter" and rng.random() < REFUSED_SHARE:
            status = 3
            reason = REASONS["refuse"]
            events.append((arrival, "refuse", 3, None))
            self.bump(unit.id, arrival, "refused")
        else:
            received = arrival
            aid = unit.id
            self.bump(aid, received, "received")
            self.bump(aid, received, f"received_{channel}")
            if channel == "online":
                self.bump(aid, received, f"received_{proc.online_level}")
            if fee:
                self.bump(aid, received, "fee_bearing")
            if digitised:
                self.bump(aid, received, "digitised")
            events.append((received, "received", 2, RECEPTION))
            due = service.due_for(cal, proc.orm, received)
            span = due - received
            x = rng.random()
            if x < 0.70:
                share = 0.15 + 0.75 * rng.random()
            elif x < 0.92:
                share = 0.9 + 0.1 * rng.random()
            else:
                share = 1.0 + 0.8 * rng.random()
            finish = cal.next_working_start(received + span * share)
            handed = received + (finish - received) * 0.1
            paid_at = received + (finish - received) * 0.3
            fate = rng.random()
            stuck = received > self.recent and rng.random() < STUCK_SHARE
            if fate < WITHDRAWN_SHARE + STOPPED_SHARE and paid_at <= now:
                if fate < WITHDRAWN_SHARE:
                    status = 7
                    events.append((paid_at, "withdraw", 7, None))
                    self.bump(aid, paid_at, "withdrawn")
                else:
                    status, step, reason = 8, 1, REASONS["stop"]
                    events.append((paid_at, "stop", 8, None))
                    pause = (paid_at, reason)
            elif finish > now or stuck:
                if fee and paid_at <= now:
                    pay_state, paid_online = "paid", True
                    self.bump(aid, paid_at, "paid")
                    self.bump(aid, paid_at, "paid_online")
                elapsed = (now - received) / (finish - received) if finish > received else 1.0
                if not stuck and elapsed < 0.15:
                    status = 2
                else:
                    handed = min(handed, now)
                    status, step = 4, 1
                    events.append((handed, "hand_over", 4, service.ROLE_UNITS["processing"]))
                    if rng.random() < (0.5 if stuck else 0.12):
                        status = 5
                        reason = REASONS["request_supplement"]
                        asked = handed + (now - handed) * rng.random()
                        events.append((asked, "request_supplement", 5, None))
                        pause = (asked, reason)
            else:
                finished = finish
                limit = due.date()
                done = finish.date()
                outcome = "early" if done < limit else "on_time" if done == limit else "late"
                self.bump(aid, finish, "finished")
                self.bump(aid, finish, f"finished_{outcome}")
                if fee:
                    pay_state, paid_online = "paid", True
                    self.bump(aid, paid_at, "paid")
                    self.bump(aid, paid_at, "paid_online")
                if rng.random() < 0.65:
                    gap = timedelta(hours=0.3 + 3.7 * rng.random())
                else:
                    gap = timedelta(days=1 + 5 * rng.random())
                back = cal.next_working_start(finish + gap)
                step = 2
                if back <= now and rng.random() > NOT_COLLECTED_SHARE:
                    status = 10
                    returned = back
                    events.append((finish, "approve", 9, None))
                    events.append((back, "return_result", 10, None))
                else:
                    status = 9
                    events.append((handed, "hand_over", 4, service.ROLE_UNITS["processing"]))
                    events.append((finish, "approve", 9, None))
        if proc.business:
            kind = "business"
            name = f"Công ty TNHH {rng.choice(TRADES)} {rng.choice(GIVEN)} {rng.choice(GIVEN)}"
        else:
            kind = "person"
            name = rng.choice(self.names)
        email = f"congdan{rng.randrange(10**7):07d}@example.vn" if channel == "online" else NULL
        self.dossiers.append(
            f"{did}\t{code}\t{proc.id}\t{unit.id}\t{channel}\t{kind}\t{name}\t"
            f"022{rng.randrange(10**9):09d}\t09{rng.randrange(10**8):08d}\t{email}\t"
            f"Tổ {rng.randint(1, 40)}, khu {rng.randint(1, 12)}, {unit.name}\t{status}\t"
            f"{ts(created)}\t{ts(received)}\t{ts(due)}\t{ts(finished)}\t{ts(returned)}\t"
            f"{outcome or NULL}\t{step}\t{fee}\t{pay_state}\t{'t' if paid_online else 'f'}\t"
            f"{'t' if digitised else 'f'}\t{reason or NULL}\n"
        )
        for at, action, event_status, event_unit in events:
            self.events.append(
                f"{self.event_id}\t{did}\t{ts(at)}\t{action}\t{event_status}\t"
                f"{event_unit or NULL}\n"
            )
            self.event_id += 1
        if pause is not None:
            self.pauses.append(f"{self.pause_id}\t{did}\t{ts(pause[0])}\t{NULL}\t{pause[1]}\n")
            self.pause_id += 1

    def take(self) -> tuple[str, str, str]:
        out = ("".join(self.dossiers), "".join(self.events), "".join(self.pauses))
        self.dossiers, self.events, self.pauses = [], [], []
        return out


class CopyWriter:
    """COPY batches in a thread of its own, on one connection in one transaction, so that this
    process builds the next batch while PostgreSQL loads the last. Foreign-key triggers are off
    for the session (session_replication_role = replica): the rows are consistent by
    construction, and the checks afterwards say so."""

    def __init__(self, conninfo: str) -> None:
        self.conn = psycopg.connect(conninfo)
        self.conn.execute("SET session_replication_role = replica")
        self.conn.execute("SET synchronous_commit = off")
        self.queue: queue.Queue[tuple[str, str, str] | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="copy", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with self.conn.cursor() as cursor:
                while (item := self.queue.get()) is not None:
                    table, columns, payload = item
                    if payload:
                        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                            copy.write(payload)
        except BaseException as exc:
            self.error = exc

    def put(self, table: str, columns: str, payload: str) -> None:
        while True:
            if self.error is not None:
                raise RuntimeError(f"COPY into {table} failed: {self.error}") from self.error
            try:
                self.queue.put((table, columns, payload), timeout=1)
                return
            except queue.Full:
                continue

    def finish(self) -> psycopg.Connection[Any]:
        """Wait for the last batch; the connection, still in its transaction, for the rest."""
        while True:
            try:
                self.queue.put(None, timeout=1)
                break
            except queue.Full:
                if self.error is not None:
                    break
        self.thread.join()
        if self.error is not None:
            raise RuntimeError(f"COPY failed: {self.error}") from self.error
        return self.conn

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.cancel()
        with contextlib.suppress(Exception):
            self.queue.put_nowait(None)
        self.thread.join(timeout=10)
        with contextlib.suppress(Exception):
            self.conn.close()


def generate(database_url: str, count: int, settings: Settings, rng: random.Random) -> GenStats:
    engine = make_engine(database_url)
    try:
        units = load_units(engine, rng)
        with engine.connect() as conn:
            first_id = int(
                conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM dossier")).scalar_one()
            )
    finally:
        engine.dispose()
    cal = service.calendar(settings)
    now = datetime.now(LOCAL_ZONE)
    cells, cap = allocate(units, cal, now, count, rng)
    gen = Generator(cal, now, cap, rng, first_id)
    stats = GenStats(first_day=cells[0].day, last_day=cells[-1].day)
    started = time.perf_counter()
    writer = CopyWriter(psycopg_conninfo(database_url))
    done = False
    try:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("Generating dossiers (COPY)", total=count, rate="")
            pending = 0
            for index, cell in enumerate(cells):
                gen.cell(cell)
                pending += cell.count
                if pending >= CHUNK or index == len(cells) - 1:
                    dossiers, events, pauses = gen.take()
                    writer.put("dossier", DOSSIER_COLUMNS, dossiers)
                    writer.put("dossier_event", EVENT_COLUMNS, events)
                    writer.put("dossier_pause", PAUSE_COLUMNS, pauses)
                    stats.dossiers += pending
                    elapsed = time.perf_counter() - started
                    progress.update(
                        task, completed=stats.dossiers, rate=f"{stats.dossiers / elapsed:,.0f}/s"
                    )
                    pending = 0
            progress.update(task, description="Waiting for the last COPY")
            loader = writer.finish()
            progress.update(task, description="KPI counts and daily counters")
            with loader.cursor() as cursor:
                with cursor.copy(
                    "COPY kpi_count (agency_id, day, measure, value) FROM STDIN"
                ) as copy:
                    for (agency_id, day, measure), value in gen.kpi.items():
                        copy.write_row((agency_id, day, measure, value))
                with cursor.copy("COPY dossier_counter (agency_id, day, last) FROM STDIN") as copy:
                    for (agency_id, day), last in gen.counters.items():
                        copy.write_row((agency_id, day, last))
                for table in SEQUENCED:
                    cursor.execute(
                        SETVAL.format(name=pgsql.Literal(table), table=pgsql.Identifier(table))
                    )
            loader.commit()
            loader.close()
            progress.update(task, description="Generated")
        done = True
    finally:
        if not done:
            writer.abort()
    stats.events = gen.event_id - 1
    stats.pauses = gen.pause_id - 1
    stats.kpi_rows = len(gen.kpi)
    stats.counter_rows = len(gen.counters)
    stats.seconds = time.perf_counter() - started
    return stats


def vacuum_analyze(database_url: str) -> float:
    started = time.perf_counter()
    with psycopg.connect(psycopg_conninfo(database_url), autocommit=True) as conn:
        for table in ("dossier", "dossier_event", "dossier_pause", "kpi_count", "dossier_counter"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started


# ---------------------------------------------------------------- the real service path on top


@dataclass
class RealPath:
    agency: str
    counter_before: int
    codes: list[str]
    expected_codes: list[str]
    counter_after: int
    kpi_delta: dict[str, int]
    kpi_expected: dict[str, int]
    timelines: dict[str, int]

    @property
    def ok(self) -> bool:
        return (
            self.codes == self.expected_codes
            and self.counter_after == self.counter_before + len(self.codes)
            and self.kpi_delta == self.kpi_expected
        )


def real_path(database_url: str, settings: Settings, blobs: FileBlobStore) -> RealPath:
    """A counter dossier taken to its result and an online one accepted, with the service."""
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    today = local_today()

    def counter_of(session: Any, agency_id: int) -> int:
        last = session.scalar(
            select(DossierCounter.last).where(
                DossierCounter.agency_id == agency_id, DossierCounter.day == today
            )
        )
        return int(last or 0)

    try:
        with unit_of_work(factory) as session:
            busiest = session.execute(
                select(Agency.code)
                .join(DossierCounter, DossierCounter.agency_id == Agency.id)
                .where(DossierCounter.day == today, Agency.code.in_(COMMUNES))
                .order_by(DossierCounter.last.desc())
                .limit(1)
            ).scalar()
            agency = registry.get_agency(session, code=busiest or "000.00.84.H49")
            before = counter_of(session, agency.id)
            counts_before = kpis.report(
                session, agency_ids=[agency.id], date_from=today, date_to=today
            )["counts"]
            user = accounts.create_user(
                session,
                username=f"bench.officer.{secrets.token_hex(3)}",
                full_name="Cán bộ đo tải",
                password=secrets.token_urlsafe(18),
                grants=[(agency.code, Role.OFFICER)],
            )
            officer = processing.Officer(user.id, user.full_name, (agency.code,))
        applicant = service.Applicant(name="Trần Thị Bình", id_number="022190000123")
        with unit_of_work(factory) as session:
            counter = service.file_dossier(
                session,
                settings=settings,
                blobs=blobs,
                filing=service.Filing(BIRTH, applicant, "counter", agency_code=agency.code),
                officer_id=officer.user_id,
            )
        for action in ("hand_over", "approve", "return_result"):
            with unit_of_work(factory) as session:
                moved = processing.act(
                    session,
                    settings=settings,
                    blobs=blobs,
                    code=counter.code,
                    action=action,
                    officer=officer,
                )
        outcome = moved.outcome
        with unit_of_work(factory) as session:
            from lienthong.onestop import catalogue

            papers = catalogue.get_procedure(session, code=BIRTH).papers
            uploads = [
                service.Upload(p["name"], "giay-to.pdf", io.BytesIO(PDF))
                for p in papers
                if p["required"]
            ]
            online = service.file_dossier(
                session,
                settings=settings,
                blobs=blobs,
                filing=service.Filing(
                    BIRTH, applicant, "online", agency_code=agency.code, uploads=uploads
                ),
            )
        with unit_of_work(factory) as session:
            processing.act(
                session,
                settings=settings,
                blobs=blobs,
                code=online.code,
                action="accept",
                officer=officer,
            )
        with unit_of_work(factory) as session:
            after = counter_of(session, agency.id)
            counts_after = kpis.report(
                session, agency_ids=[agency.id], date_from=today, date_to=today
            )["counts"]
    finally:
        engine.dispose()
    delta = {m: counts_after[m] - counts_before[m] for m in kpis.MEASURES}
    expected = dict.fromkeys(kpis.MEASURES, 0)
    expected.update(
        received=2,
        received_counter=1,
        received_online=1,
        received_toan_trinh=1,
        digitised=1,
        finished=1,
    )
    expected[f"finished_{outcome}"] = 1
    prefix = f"{agency.code}-{today:%y%m%d}-"
    return RealPath(
        agency.code,
        before,
        [counter.code, online.code],
        [f"{prefix}{before + 1:04d}", f"{prefix}{before + 2:04d}"],
        after,
        {k: v for k, v in delta.items() if v},
        {k: v for k, v in expected.items() if v},
        {},
    )


# ---------------------------------------------------------------- consistency of the data

CHECKS = {
    "dossiers": "SELECT count(*) FROM dossier",
    "events": "SELECT count(*) FROM dossier_event",
    "kpi rows": "SELECT count(*) FROM kpi_count",
    "counter rows": "SELECT count(*) FROM dossier_counter",
    # every (agency, local day of filing) numbered 1..n, n = dossier_counter.last
    "codes off their counter": """
        SELECT count(*) FROM (
            SELECT agency_id, (created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day,
                   count(*) AS n, max(split_part(code, '-', 3)::int) AS top,
                   count(DISTINCT code) AS codes
            FROM dossier GROUP BY 1, 2
        ) d FULL JOIN dossier_counter c USING (agency_id, day)
        WHERE c.last IS DISTINCT FROM d.n OR d.top <> d.n OR d.codes <> d.n""",
    "received: KPI sum - dossiers": """
        SELECT (SELECT coalesce(sum(value), 0) FROM kpi_count WHERE measure = 'received')
             - (SELECT count(*) FROM dossier WHERE received_at IS NOT NULL)""",
    "finished: KPI sum - dossiers": """
        SELECT (SELECT coalesce(sum(value), 0) FROM kpi_count WHERE measure = 'finished')
             - (SELECT count(*) FROM dossier WHERE finished_at IS NOT NULL)""",
    "events per dossier, min-max (1: online, not yet received)": """
        SELECT min(n) || '-' || max(n) FROM (SELECT count(*) n FROM dossier_event GROUP BY dossier_id) e""",
    "orphan events": """
        SELECT count(*) FROM dossier_event e WHERE NOT EXISTS (SELECT 1 FROM dossier d WHERE d.id = e.dossier_id)""",
}
MIX_SQL = "SELECT status, count(*) FROM dossier GROUP BY status ORDER BY status"
OVERDUE_SQL = "SELECT count(*) FROM dossier WHERE status IN (2, 4, 5, 6) AND due_at < now()"
OUTCOME_SQL = (
    "SELECT outcome, count(*) FROM dossier WHERE outcome IS NOT NULL GROUP BY 1 ORDER BY 1"
)


def data_summary(database_url: str) -> tuple[dict[str, str], str, str, int]:
    with psycopg.connect(psycopg_conninfo(database_url), autocommit=True) as conn:
        checks = {name: str(conn.execute(sql).fetchone()[0]) for name, sql in CHECKS.items()}  # type: ignore[index]
        mix = conn.execute(MIX_SQL).fetchall()
        outcomes = conn.execute(OUTCOME_SQL).fetchall()
        overdue = int(conn.execute(OVERDUE_SQL).fetchone()[0])  # type: ignore[index]
    total = sum(n for _, n in mix) or 1
    mix_text = " · ".join(f"{s}: {n:,} ({100 * n / total:.1f} %)" for s, n in mix)
    done = sum(n for _, n in outcomes) or 1
    outcome_text = " · ".join(f"{o} {100 * n / done:.1f} %" for o, n in outcomes)
    return checks, mix_text, outcome_text, overdue


# ---------------------------------------------------------------- measuring


@dataclass
class Timings:
    seconds: list[float]
    wall: float = 0.0
    bad: int = 0
    first_bad: str = ""

    def p(self, q: float) -> float:
        return common.percentile(self.seconds, q)

    @property
    def rate(self) -> float:
        return len(self.seconds) / self.wall if self.wall else float("nan")

    def line(self) -> str:
        return (
            f"p50 {ms(self.p(50))} · p95 {ms(self.p(95))} · p99 {ms(self.p(99))} · "
            f"max {ms(max(self.seconds, default=float('nan')))}"
        )


Check = Callable[[httpx.Response], str | None]


def http_run(
    url: str, paths: Sequence[str], check: Check, *, clients: int = 1, timeout: float = 30
) -> Timings:
    """GET every path, `clients` keep-alive clients in threads; latency of each request."""
    slices = [list(paths[i::clients]) for i in range(clients)]

    def one_client(mine: Sequence[str]) -> Timings:
        out = Timings([])
        with httpx.Client(base_url=url, timeout=timeout) as client:
            for path in mine:
                started = time.perf_counter()
                response = client.get(path)
                out.seconds.append(time.perf_counter() - started)
                problem = check(response)
                if problem:
                    out.bad += 1
                    out.first_bad = out.first_bad or f"{path}: {problem}"
        return out

    started = time.perf_counter()
    if clients == 1:
        parts = [one_client(slices[0])]
    else:
        with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="client") as pool:
            parts = list(pool.map(one_client, slices))
    total = Timings(
        [s for p in parts for s in p.seconds],
        time.perf_counter() - started,
        sum(p.bad for p in parts),
        next((p.first_bad for p in parts if p.first_bad), ""),
    )
    return total


def expect_lookup(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code} {response.text[:200]}"
    data = response.json()
    if not data.get("timeline"):
        return "no timeline"
    return None


def expect_status(status: int) -> Check:
    def check(response: httpx.Response) -> str | None:
        return None if response.status_code == status else f"HTTP {response.status_code}"

    return check


class Capture:
    """The SQL statements (and parameters) an engine sends while `on`."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._hook)

    def _hook(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, parameters))

    @contextlib.contextmanager
    def __call__(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.on = True
        try:
            yield self.statements
        finally:
            self.on = False


def timed(calls: Sequence[Callable[[], object]]) -> Timings:
    out = Timings([])
    started = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        call()
        out.seconds.append(time.perf_counter() - t0)
    out.wall = time.perf_counter() - started
    return out


def replay(engine: Engine, statements: Sequence[tuple[str, Any]]) -> Callable[[], None]:
    """The same statements on a bare pooled DBAPI connection, one transaction, rows fetched."""

    def run() -> None:
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            cursor.close()
            conn.commit()
        finally:
            conn.close()

    return run


@dataclass(frozen=True)
class Sampled:
    id: int
    code: str
    procedure_id: int
    agency_id: int


def lookup_template(
    capture: Capture, factory: Any, sample: Sampled
) -> list[tuple[str, dict[str, Any]]]:
    with capture() as statements, unit_of_work(factory) as session:
        queries.public_view(session, service.get_dossier(session, code=sample.code))
    out = []
    for statement, parameters in statements:
        if not isinstance(parameters, dict):
            raise RuntimeError(f"unexpected parameters {parameters!r}")
        out.append((statement, dict(parameters)))
    return out


def substitute(
    template: Sequence[tuple[str, dict[str, Any]]], old: Sampled, new: Sampled
) -> list[tuple[str, dict[str, Any]]]:
    """The look-up statements of `old` with the values of `new`, statement by statement."""
    out = []
    for statement, parameters in template:
        head = statement.split("WHERE", 1)[0]
        if "FROM dossier_event" in head:
            mapping: dict[Any, Any] = {old.id: new.id}
        elif "FROM procedure" in head:
            mapping = {old.procedure_id: new.procedure_id}
        elif "FROM agency" in head:
            mapping = {old.agency_id: new.agency_id}
        elif "FROM dossier" in head:
            mapping = {old.code: new.code}
        else:
            raise RuntimeError(f"unexpected look-up statement: {statement[:200]}")
        if old != new and not any(v in mapping for v in parameters.values()):
            raise RuntimeError(f"cannot substitute into: {statement[:200]} {parameters}")
        changed = {k: mapping.get(v, v) for k, v in parameters.items()}
        out.append((statement, changed))
    return out


def explain(engine: Engine, statements: Sequence[tuple[str, Any]]) -> list[str]:
    plans = []
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        for statement, parameters in statements:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            plans.append(f"{' '.join(statement.split())[:300]}\n{plan}")
        cursor.close()
        conn.rollback()
    finally:
        conn.close()
    return plans


@dataclass
class KpiCase:
    label: str
    agency: str | None
    date_from: date
    date_to: date
    http: Timings | None = None
    orm: Timings | None = None
    sql: Timings | None = None
    statements: list[tuple[str, Any]] = field(default_factory=list)
    sample: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        query = f"from={self.date_from.isoformat()}&to={self.date_to.isoformat()}"
        if self.agency:
            query = f"agency={self.agency}&{query}"
        return f"/api/v1/onestop/kpis?{query}"


def kpi_call(factory: Any, case: KpiCase) -> Callable[[], dict[str, Any]]:
    """What the endpoint does, without HTTP."""

    def run() -> dict[str, Any]:
        with unit_of_work(factory) as session:
            ids = None
            if case.agency:
                ids = [registry.get_agency(session, code=case.agency).id]
            return kpis.report(
                session, agency_ids=ids, date_from=case.date_from, date_to=case.date_to
            )

    return run


# ---------------------------------------------------------------- the run


def ensure_schema(database_url: str, env: dict[str, str]) -> None:
    common.run_cli(["db", "upgrade"], env)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            agencies = int(conn.execute(text("SELECT count(*) FROM agency")).scalar_one())
            procedures = int(conn.execute(text("SELECT count(*) FROM procedure")).scalar_one())
    finally:
        engine.dispose()
    if not agencies:
        common.run_cli(["db", "seed"], env)
    if not procedures:
        csv = Path(service.__file__).parent / "seed" / "procedures.csv"
        common.run_cli(["onestop", "import", str(csv)], env)


def dossier_count(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM dossier")).scalar_one())
    finally:
        engine.dispose()


def measure(
    args: argparse.Namespace, database_url: str, url: str, server_pid: int, rng: random.Random
) -> dict[str, Any]:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    capture = Capture(engine)
    n = args.requests
    try:
        with engine.connect() as conn:
            bounds = conn.execute(text("SELECT min(id), max(id) FROM dossier")).one()
            low, high = int(bounds[0]), int(bounds[1])
            ids = rng.sample(range(low, high + 1), min(WARMUP + 4 * n, high - low + 1))
            rows = conn.execute(
                text("SELECT id, code, procedure_id, agency_id FROM dossier WHERE id = ANY(:ids)"),
                {"ids": ids},
            ).all()
            busiest: str = conn.execute(
                text(
                    "SELECT a.code FROM dossier_counter c JOIN agency a ON a.id = c.agency_id "
                    "GROUP BY a.code ORDER BY sum(c.last) DESC LIMIT 1"
                )
            ).scalar_one()
        sample = [Sampled(int(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]
        rng.shuffle(sample)
        warm, seq_s, conc_s, orm_s, sql_s = (
            sample[:WARMUP],
            sample[WARMUP : WARMUP + n],
            sample[WARMUP + n : WARMUP + 2 * n],
            sample[WARMUP + 2 * n : WARMUP + 3 * n],
            sample[WARMUP + 3 * n : WARMUP + 4 * n],
        )
        path = "/api/v1/onestop/lookup/{}".format
        with console.status("Look-ups: warm-up, sequential, concurrent…"):
            http_run(url, [path(s.code) for s in warm], expect_lookup)
            cpu_before = common.cpu_seconds(server_pid)
            pg_before = common.postgres_cpu_seconds()
            seq = http_run(url, [path(s.code) for s in seq_s], expect_lookup)
            server_cpu = (common.cpu_seconds(server_pid) - cpu_before) / max(len(seq_s), 1)
            pg_after = common.postgres_cpu_seconds()
            pg_cpu = (
                (pg_after - pg_before) / max(len(seq_s), 1)
                if pg_after is not None and pg_before is not None
                else None
            )
            conc = http_run(
                url, [path(s.code) for s in conc_s], expect_lookup, clients=args.clients
            )
            future = local_today() + timedelta(days=400)
            unknown = http_run(
                url,
                [
                    path(f"{rng.choice(COMMUNES)}-{future:%y%m%d}-{rng.randint(1, 9999):04d}")
                    for _ in range(SPECIAL_SAMPLES)
                ],
                expect_status(404),
            )
            bad = [
                "abc",
                "000.00.43.H49-2601-0001",
                "000.00.43.H49_260101_0001",
                "H49-260101-0001",
                "000.00.43.H49-260101-00x1",
                "000.00.43.H49-260101",
            ]
            malformed = http_run(
                url, [path(bad[i % len(bad)]) for i in range(SPECIAL_SAMPLES)], expect_status(422)
            )
        with console.status("Look-ups in-process: service (ORM) and bare SQL…"):
            template_of = sample[0]
            template = lookup_template(capture, factory, template_of)

            def orm_call(code: str) -> Callable[[], object]:
                def run() -> object:
                    with unit_of_work(factory) as session:
                        return queries.public_view(session, service.get_dossier(session, code=code))

                return run

            for s in warm[:50]:
                orm_call(s.code)()
            orm = timed([orm_call(s.code) for s in orm_s])
            sql = timed([replay(engine, substitute(template, template_of, s)) for s in sql_s])
        today = local_today()
        cases = [
            KpiCase("one agency, one year", busiest, today - timedelta(days=364), today),
            KpiCase("one agency, all time", busiest, date(2000, 1, 1), today),
            KpiCase("all agencies, one year", None, today - timedelta(days=364), today),
        ]
        with console.status("KPI endpoint: HTTP, service in-process, bare SQL…"):
            for case in cases:
                paths = [case.path] * KPI_ROUNDS
                http_run(url, [case.path] * KPI_WARMUP, expect_status(200))
                case.http = http_run(url, paths, expect_status(200), timeout=60)
                call = kpi_call(factory, case)
                with capture() as statements:
                    case.sample = call()
                case.statements = list(statements)
                timed([call] * 15)
                case.orm = timed([call] * KPI_ROUNDS)
                timed([replay(engine, case.statements)] * 15)
                case.sql = timed([replay(engine, case.statements)] * KPI_ROUNDS)
        explains: dict[str, list[str]] = {}
        lookup_missed = max(seq.p(99), conc.p(99)) >= TARGET_LOOKUP_P99
        if lookup_missed or args.explain:
            explains["look-up (one code)"] = explain(
                engine, substitute(template, template_of, seq_s[0])
            )
        for case in cases:
            assert case.http is not None
            if case.http.p(99) >= TARGET_KPI or args.explain:
                explains[f"KPI {case.label}"] = explain(engine, case.statements)
    finally:
        engine.dispose()
    return {
        "seq": seq,
        "conc": conc,
        "unknown": unknown,
        "malformed": malformed,
        "orm": orm,
        "sql": sql,
        "kpi": cases,
        "server_cpu": server_cpu,
        "pg_cpu": pg_cpu,
        "lookup_statements": template,
        "explains": explains,
        "agency": busiest,
    }


def check_real_codes(url: str, real: RealPath) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for code in real.codes:
            response = client.get(f"/api/v1/onestop/lookup/{code}")
            real.timelines[code] = (
                len(response.json()["timeline"])
                if response.status_code == 200
                else -response.status_code
            )


def report(
    args: argparse.Namespace,
    database: str,
    stats: GenStats | None,
    vacuum_seconds: float,
    real: RealPath,
    summary: tuple[dict[str, str], str, str, int],
    m: dict[str, Any],
) -> bool:
    checks, mix, outcomes, overdue = summary
    seq: Timings = m["seq"]
    conc: Timings = m["conc"]
    orm: Timings = m["orm"]
    sql: Timings = m["sql"]

    data = Table(title="Data", show_lines=False)
    data.add_column("item")
    data.add_column("value")
    if stats is not None:
        data.add_row(
            "generation",
            f"{stats.dossiers:,} dossiers, {stats.events:,} events, {stats.pauses:,} pauses, "
            f"{stats.kpi_rows:,} kpi_count rows, {stats.counter_rows:,} dossier_counter rows in "
            f"{stats.seconds:.1f} s ({stats.dossiers / stats.seconds:,.0f} dossiers/s; "
            f"days {stats.first_day} … {stats.last_day}); VACUUM ANALYZE + CHECKPOINT "
            f"{vacuum_seconds:.1f} s",
        )
    else:
        data.add_row("generation", "skipped: the database already holds enough dossiers")
    for name, value in checks.items():
        data.add_row(name, value)
    data.add_row("status mix", mix)
    data.add_row("outcomes of finished", outcomes)
    data.add_row("open and overdue now", f"{overdue:,}")
    data.add_row(
        "real service path",
        f"{real.agency}: counter {real.counter_before} → {real.counter_after}; codes "
        f"{', '.join(real.codes)} (expected {', '.join(real.expected_codes)}); KPI today +"
        f"{real.kpi_delta} (expected {real.kpi_expected}); timelines via HTTP "
        f"{real.timelines} → {'OK' if real.ok else 'MISMATCH'}",
    )
    console.print(data)

    table = Table(title="lienthong one-stop benchmark", show_lines=True)
    for column in ("measure", "figure", "target", "verdict"):
        table.add_column(column)
    table.add_row("machine", common.machine(), "", "")
    table.add_row("database", database, "", "")
    table.add_row(
        "set-up",
        "1 × lienthong serve (LOG_LEVEL=WARNING), httpx keep-alive clients in this process, "
        "same machine; random existing codes, each used once",
        "",
        "",
    )
    good = seq.bad == 0 and conc.bad == 0
    table.add_row(
        f"look-up sequential ({len(seq.seconds)})",
        f"{seq.line()} · {seq.rate:,.0f} req/s"
        + (f" · {seq.bad} bad: {seq.first_bad}" if seq.bad else ""),
        f"p99 < {TARGET_LOOKUP_P99 * 1000:.0f} ms",
        verdict(seq.p(99) < TARGET_LOOKUP_P99 and seq.bad == 0),
    )
    table.add_row(
        f"look-up {args.clients} concurrent clients ({len(conc.seconds)})",
        f"{conc.line()} · {conc.rate:,.0f} req/s"
        + (f" · {conc.bad} bad: {conc.first_bad}" if conc.bad else ""),
        f"p99 < {TARGET_LOOKUP_P99 * 1000:.0f} ms",
        verdict(conc.p(99) < TARGET_LOOKUP_P99 and conc.bad == 0),
    )
    for label, t, status in (
        ("unknown code", m["unknown"], 404),
        ("malformed code", m["malformed"], 422),
    ):
        table.add_row(
            f"look-up {label} ({len(t.seconds)})",
            f"{t.line()} · {len(t.seconds) - t.bad}/{len(t.seconds)} answered {status}"
            + (f" · first other: {t.first_bad}" if t.bad else ""),
            str(status),
            verdict(t.bad == 0),
        )
    table.add_row(
        "look-up in-process, service (ORM)",
        f"{orm.line()} · HTTP/ORM p50 {seq.p(50) / orm.p(50):.2f}×, p99 {seq.p(99) / orm.p(99):.2f}×",
        "",
        "",
    )
    table.add_row(
        f"look-up in-process, bare SQL ({len(m['lookup_statements'])} statements)",
        f"{sql.line()} · HTTP/SQL p50 {seq.p(50) / sql.p(50):.2f}×, p99 {seq.p(99) / sql.p(99):.2f}×",
        "",
        "",
    )
    pg = f" · PostgreSQL {ms(m['pg_cpu'])}" if m["pg_cpu"] is not None else ""
    table.add_row(
        "CPU per sequential look-up",
        f"server process {ms(m['server_cpu'])}{pg} (utime+stime)",
        "",
        "",
    )
    kpi_ok = True
    for case in m["kpi"]:
        http, orm_k, sql_k = case.http, case.orm, case.sql
        assert http is not None
        assert orm_k is not None
        assert sql_k is not None
        met = http.p(99) < TARGET_KPI and http.bad == 0
        kpi_ok = kpi_ok and met
        counts = case.sample["counts"]
        table.add_row(
            f"KPI {case.label}" + (f" ({case.agency})" if case.agency else ""),
            f"HTTP p50 {ms(http.p(50))} · p99 {ms(http.p(99))}"
            + (f" · {http.bad} bad: {http.first_bad}" if http.bad else "")
            + f"\nin-process service p50 {ms(orm_k.p(50))} · bare SQL p50 {ms(sql_k.p(50))} "
            f"({len(case.statements)} statements) · HTTP/SQL p50 {http.p(50) / sql_k.p(50):.2f}×"
            f"\nreceived {counts['received']:,}, finished {counts['finished']:,}, in progress "
            f"{case.sample['in_progress']:,}, overdue {case.sample['overdue']:,}",
            f"< {TARGET_KPI * 1000:.0f} ms (p99)",
            verdict(met),
        )
    table.add_row(
        "codes and counters after the bulk data",
        f"{len(real.codes)} dossiers filed through service.file_dossier + processing.act",
        "next numbers, KPIs +exact",
        verdict(real.ok and all(v > 0 for v in real.timelines.values())),
    )
    console.print(table)
    for title, plans in m["explains"].items():
        console.print(f"[bold]EXPLAIN (ANALYZE, BUFFERS): {title}[/]")
        for plan in plans:
            console.print(plan, markup=False, highlight=False)
    lookup_ok = seq.p(99) < TARGET_LOOKUP_P99 and conc.p(99) < TARGET_LOOKUP_P99
    return good and lookup_ok and kpi_ok and real.ok


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000, help="dossiers (default 1,000,000)")
    parser.add_argument(
        "--requests", type=int, default=2000, help="look-ups per run (default 2000)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--database-url", help="reuse this PostgreSQL database (never dropped)")
    parser.add_argument("--pg-admin-url", default=common.PG_ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database and the folder")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE even when met")
    parser.add_argument("--seed", type=int, default=49)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for the whole run")
    args = parser.parse_args(argv)
    if not 1000 <= args.count <= 20_000_000:
        parser.error("--count must be within 1000..20,000,000")
    if not 100 <= args.requests <= 100_000 or not 1 <= args.clients <= 64:
        parser.error("--requests 100..100,000, --clients 1..64")
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise BenchmarkTimeout(f"the run took longer than --timeout {args.timeout:.0f} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, int(args.timeout)))
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="lienthong-onestop-bench-"))
    database: common.ThrowawayDatabase | None = None
    nodes: list[common.NodeProcess] = []
    url = args.database_url or ""
    try:
        if args.database_url:
            url = args.database_url
            label = f"PostgreSQL (reused: {make_url(url).database})"
            engine = make_engine(url)
            try:
                with engine.connect() as conn:
                    label = label.replace(
                        "PostgreSQL",
                        f"PostgreSQL {conn.execute(text('SHOW server_version')).scalar_one()}",
                    )
            finally:
                engine.dispose()
        else:
            database = common.create_database("postgresql", folder, admin_url=args.pg_admin_url)
            url, label = database.url, database.label
        console.print(f"[bold]lienthong one-stop benchmark[/] · {label} · folder {folder}")
        env = common.lienthong_env(folder, url, LIENTHONG_ONESTOP_LOOKUP_PER_MINUTE=str(10**9))
        with console.status("lienthong db upgrade, db seed, onestop import…"):
            ensure_schema(url, env)
        settings = Settings(
            database_url=url,
            var_dir=folder / "var",
            blob_dir=folder / "blobs",
            key_dir=folder / "keys",
        )
        present = dossier_count(url)
        stats: GenStats | None = None
        vacuum_seconds = 0.0
        if present >= args.count:
            console.print(f"{present:,} dossiers already there: generation skipped.")
        elif present:
            console.print(
                f"[red]The database holds {present:,} dossiers, fewer than --count "
                f"{args.count:,}: use a fresh database or a lower --count.[/]"
            )
            return 2
        else:
            stats = generate(url, args.count, settings, rng)
            with console.status("VACUUM ANALYZE, CHECKPOINT…"):
                vacuum_seconds = vacuum_analyze(url)
        with console.status("Filing dossiers through the service on top of the bulk data…"):
            real = real_path(url, settings, FileBlobStore(folder / "blobs"))
        with console.status("Checking the data…"):
            summary = data_summary(url)
        nodes = common.start_node(folder, env, servers=1, workers=0)
        server = nodes[0]
        assert server.url is not None
        check_real_codes(server.url, real)
        results = measure(args, url, server.url, server.pid, rng)
        ok = report(args, label, stats, vacuum_seconds, real, summary, results)
        return 0 if ok else 1
    except BenchmarkTimeout as exc:
        console.print(f"[red]{exc}[/]")
        return 3
    finally:
        signal.alarm(0)
        common.stop_all(nodes)
        if database is not None and not args.keep:
            database.drop()
        if args.keep:
            console.print(f"Kept: folder {folder}, database {url}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
        if args.database_url:
            console.print(f"The database {make_url(args.database_url).database} was reused: kept.")


if __name__ == "__main__":
    sys.exit(main())
