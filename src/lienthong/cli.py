"""The `lienthong` command: serve, worker, demo, db, org, user, jobs."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lienthong import migrations
from lienthong.accounts.cli import app as user_app
from lienthong.config import Settings
from lienthong.datashare.cli import app as data_app
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.exchange.cli import doc_app, log_app
from lienthong.federation.cli import directory_app, node_app, peer_app
from lienthong.kernel import jobs, logs
from lienthong.netmon.cli import app as net_app
from lienthong.onestop.cli import app as onestop_app
from lienthong.registry.cli import app as org_app
from lienthong.registry.cli import progress_bar
from lienthong.security.cli import app as security_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from lienthong.runtime import Runtime

app = typer.Typer(help="lienthong — trục liên thông văn bản và dịch vụ công.", no_args_is_help=True)
db_app = typer.Typer(help="Database: migrations, checks, seed data.", no_args_is_help=True)
jobs_app = typer.Typer(help="The job queue: status and requeue.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(jobs_app, name="jobs")
app.add_typer(doc_app, name="doc")
app.add_typer(onestop_app, name="onestop")
app.add_typer(log_app, name="log")
app.add_typer(node_app, name="node")
app.add_typer(peer_app, name="peer")
app.add_typer(net_app, name="net")
app.add_typer(directory_app, name="directory")
app.add_typer(data_app, name="data")
app.add_typer(security_app, name="sec")
console = Console()


@app.callback()
def root(ctx: typer.Context) -> None:
    settings = Settings()
    logs.configure(json_lines=settings.log_json, level=settings.log_level)
    ctx.obj = settings


def _serve(settings: Settings, *, with_worker: bool, processes: int = 1) -> None:
    import uvicorn

    from lienthong.app import create_app
    from lienthong.runtime import build_runtime
    from lienthong.web.guard import MAX_HEADER_BYTES
    from lienthong.web.server import JsonErrorH11Protocol

    factory = make_session_factory(make_engine(settings.database_url))
    runtime = build_runtime(settings)
    stop = threading.Event()
    # An API process without the worker still stores its own security events; with several
    # processes each one does (app.app_from_environment).
    threads = (
        _start_workers(settings, factory, runtime, stop)
        if with_worker
        else _start_security_flusher(factory, runtime, stop)
        if processes <= 1
        else []
    )
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "http": JsonErrorH11Protocol,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }
    try:
        if processes > 1:
            # Several processes on one socket, sharing nothing but the database, the blob
            # folder and the rate-limit store: each builds the app from the environment, so
            # the address chosen here is handed down through it. This process supervises
            # them (and runs the worker threads when asked).
            os.environ["LIENTHONG_HOST"], os.environ["LIENTHONG_PORT"] = (
                settings.host,
                str(settings.port),
            )
            uvicorn.run(
                "lienthong.app:app_from_environment", factory=True, workers=processes, **options
            )
        else:
            uvicorn.run(create_app(settings, factory, runtime), **options)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def _start_workers(
    settings: Settings, factory: sessionmaker[Session], runtime: Runtime, stop: threading.Event
) -> list[threading.Thread]:
    """The job worker, the federation forwarder and every domain's background loop, each in
    its own thread (see `app.background_loops`)."""
    from lienthong.app import background_loops

    threads = [
        threading.Thread(target=loop, args=(stop,), daemon=True, name=name)
        for name, loop in background_loops(factory, runtime)
    ]
    for thread in threads:
        thread.start()
    return threads


def _start_security_flusher(
    factory: sessionmaker[Session], runtime: Runtime, stop: threading.Event
) -> list[threading.Thread]:
    """An API process without the worker still stores its own security events (sign-ins,
    refusals) and runs the rules on them; listeners stay with the worker."""
    from lienthong.security.loops import flusher_loop

    thread = threading.Thread(
        target=flusher_loop(factory, runtime), args=(stop,), daemon=True, name="security-flusher"
    )
    thread.start()
    return [thread]


def _listen(ctx: typer.Context, host: str | None, port: int | None) -> Settings:
    """The settings with the address given on the command line, if any."""
    base: Settings = ctx.obj
    return base.model_copy(update={k: v for k, v in {"host": host, "port": port}.items() if v})


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LIENTHONG_PORT or 8000).")] = None,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the worker and forwarder in-process.")
    ] = False,
    processes: Annotated[
        int,
        typer.Option(
            "--processes", min=1, max=64, help="Serving processes sharing the port (default 1)."
        ),
    ] = 1,
) -> None:
    """Run the API and pages (start `lienthong worker` beside it for jobs and hand-overs, or
    give --with-worker for a one-process node). `--processes N` serves from N processes on
    one port, for a machine with N cores."""
    _serve(_listen(ctx, host, port), with_worker=with_worker, processes=processes)


@app.command()
def worker(ctx: typer.Context) -> None:
    """Run the job worker and the federation forwarder until interrupted. Several may run
    against one PostgreSQL."""
    from lienthong.runtime import build_runtime

    settings: Settings = ctx.obj
    factory = make_session_factory(make_engine(settings.database_url))
    stop = threading.Event()
    # SIGTERM (systemd, a container's stop) ends the loops between two jobs, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = _start_workers(settings, factory, build_runtime(settings), stop)
    try:
        while not stop.is_set() and any(t.is_alive() for t in threads):
            stop.wait(1)
    except KeyboardInterrupt:
        pass
    stop.set()
    for thread in threads:
        thread.join(timeout=10)


@app.command()
def demo(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default LIENTHONG_PORT or 8000).")] = None,
) -> None:
    """Migrate, seed the Quảng Ninh registry and demo accounts, and serve API + worker in one process."""
    from lienthong.datashare import seed as datashare_seed
    from lienthong.demo import CITIZEN, DEMO_PASSWORD, seed_demo_accounts, seed_signing_keys
    from lienthong.kernel.pki import FileKeyStore
    from lienthong.onestop import catalogue
    from lienthong.registry import seed
    from lienthong.runtime import build_runtime
    from lienthong.security.seed import seed_security_demo

    settings = _listen(ctx, host, port)
    console.print(f"[bold]lienthong demo[/] · database {settings.database_url}")
    migrations.upgrade(settings.database_url)
    factory = make_session_factory(make_engine(settings.database_url))
    with progress_bar(console) as (progress, task), unit_of_work(factory) as session:
        result = seed.seed_registry(
            session, progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
        accounts = seed_demo_accounts(session)
        catalogue.seed_procedures(session)
        datashare_seed.seed_demo(session, settings=settings)
        seed_security_demo(session)
    runtime = build_runtime(settings)
    assert isinstance(runtime.keys, FileKeyStore)
    with (
        progress_bar(console, "Signing keys") as (progress, task),
        unit_of_work(factory) as session,
    ):
        seed_signing_keys(
            session,
            keys=runtime.keys,
            node_code=settings.node_code,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    from lienthong.netmon.demo import seed_network

    with unit_of_work(factory) as session:
        links = seed_network(
            session,
            node_code=settings.node_code,
            province_code=settings.node_agency_code,
            interval=settings.netmon_interval_seconds,
        )
    console.print(f"Network: {links} illustrative links on loopback (probed live)")
    from lienthong.exchange.demo_documents import seed_demo_documents

    with unit_of_work(factory) as session:
        seed_demo_documents(session, runtime)  # a signed, numbered document to look at
    console.print(
        f"Registry: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    )
    url = settings.public_url
    table = Table(title="Demo sign-ins / Tài khoản thử", show_lines=False)
    for column in ("username", "password", "role", "agency"):
        table.add_column(column)
    for account, code in accounts:
        table.add_row(
            account.username,
            DEMO_PASSWORD,
            account.role.value,
            f"{account.agency_short_name} ({code})",
        )
    table.add_row(CITIZEN[0], DEMO_PASSWORD, "citizen", "—")
    console.print(table)
    console.print(f"Pages:    {url}/  ·  registry {url}/registry  ·  network {url}/mang")
    console.print(
        f"API:      {url}/api/v1/organizations/{settings.node_agency_code}  ·  docs {url}/docs"
    )
    console.print(f"Health:   {url}/healthz  {url}/readyz  {url}/metrics")
    _serve(settings, with_worker=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: str = "head") -> None:
    """Apply migrations."""
    migrations.upgrade(ctx.obj.database_url, revision)
    console.print(f"Database at {revision}.")


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Fail when the models and the migrated database disagree (run after `db upgrade`)."""
    engine = make_engine(ctx.obj.database_url)
    with engine.connect() as conn:
        current = migrations.current_revision(conn)
        diff = migrations.pending_model_changes(conn)
    head = migrations.head_revision()
    if current != head:
        console.print(f"[red]Database at {current}, head is {head}: run `lienthong db upgrade`.[/]")
        raise typer.Exit(1)
    if diff:
        console.print("[red]Models and migrations disagree:[/]")
        for item in diff:
            console.print(f"  {item}")
        raise typer.Exit(1)
    console.print("Models and migrations agree.")


@db_app.command("seed")
def db_seed(
    ctx: typer.Context,
    with_demo_accounts: Annotated[
        bool, typer.Option("--demo-accounts", help="Also create demo accounts.")
    ] = False,
) -> None:
    """Load (or refresh) the shipped Quảng Ninh registry; running it twice changes nothing."""
    from lienthong.demo import seed_demo_accounts
    from lienthong.registry import seed

    factory = make_session_factory(make_engine(ctx.obj.database_url))
    with progress_bar(console) as (progress, task), unit_of_work(factory) as session:
        result = seed.seed_registry(
            session, progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
        if with_demo_accounts:
            seed_demo_accounts(session)
    console.print(
        f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    )


@jobs_app.command("status")
def jobs_status(ctx: typer.Context) -> None:
    """Jobs by status, and what the blob collector last found."""
    from lienthong.kernel import blobgc
    from lienthong.kernel.clock import format_datetime

    factory = make_session_factory(make_engine(ctx.obj.database_url))
    with factory() as session:
        for status, count in jobs.counts_by_status(session).items():
            console.print(f"{status:8} {count}")
        run = blobgc.last_run(session)
    if run is None:
        console.print("blobs    the collector has not run yet")
    else:
        console.print(
            f"blobs    {run.files:,} files, {run.bytes / 2**20:,.1f} MiB kept; last collection "
            f"{format_datetime(run.at)}: {run.deleted:,} unreferenced removed "
            f"({run.deleted_bytes / 2**20:,.1f} MiB), {run.recent:,} too recent to judge, "
            f"{run.temporary:,} leftover temporary files"
        )


@jobs_app.command("list")
def jobs_list(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="pending, running, done or dead.")] = "dead",
    limit: int = 50,
) -> None:
    """Jobs in one state, newest first: `dead` is the dead-letter list an operator requeues."""
    from sqlalchemy import select

    factory = make_session_factory(make_engine(ctx.obj.database_url))
    table = Table(title=f"jobs: {status}")
    for column in ("id", "kind", "attempts", "last error", "payload"):
        table.add_column(column)
    with factory() as session:
        rows = session.scalars(
            select(jobs.Job)
            .where(jobs.Job.status == status)
            .order_by(jobs.Job.id.desc())
            .limit(limit)
        )
        for job in rows:
            table.add_row(
                str(job.id),
                job.kind,
                str(job.attempts),
                (job.last_error or "")[:80],
                str(job.payload),
            )
    console.print(table)


@jobs_app.command("requeue")
def jobs_requeue(ctx: typer.Context, job_id: int) -> None:
    """Put a dead job back in the queue."""
    factory = make_session_factory(make_engine(ctx.obj.database_url))
    with unit_of_work(factory) as session:
        jobs.requeue(session, job_id=job_id)
    console.print(f"Job {job_id} requeued.")


def main() -> None:
    logging.captureWarnings(True)
    app()
