"""`lienthong data …`: import a hosted dataset, list grants, read the sharing log, link a
person to their identifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from lienthong.accounts.models import User
from lienthong.datashare import access, catalogue, hosted, queries, sharelog
from lienthong.kernel.clock import format_datetime
from lienthong.kernel.commands import command_unit
from lienthong.registry.cli import progress_bar

app = typer.Typer(help="Shared data: datasets, grants, the sharing log.", no_args_is_help=True)
grant_app = typer.Typer(help="Access grants.", no_args_is_help=True)
app.add_typer(grant_app, name="grant")
console = Console()


@app.command("import")
def import_records(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset's code, e.g. doanh-nghiep.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import records from CSV (a column per item) or GeoJSON points: all rows or none."""
    text = file.read_text(encoding="utf-8-sig")
    geojson = file.suffix.lower() in (".geojson", ".json")
    with progress_bar(console, "Records") as (progress, task), command_unit(ctx) as session:
        found = catalogue.get_dataset(session, code=dataset)
        result = hosted.import_file(
            session,
            dataset=found,
            text=text,
            geojson=geojson,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(f"{result.rows} rows: {result.created} created, {result.updated} updated")


@grant_app.command("list")
def grant_list(
    ctx: typer.Context,
    agency: Annotated[str | None, typer.Option(help="Owner or consumer agency code.")] = None,
    history: Annotated[bool, typer.Option(help="Also superseded grants.")] = False,
) -> None:
    """Current grants (as owner or consumer of AGENCY, or all)."""
    with command_unit(ctx) as session:
        from lienthong.registry.models import Agency

        ids = (
            queries.agency_ids(session, [agency.strip().upper()])
            if agency
            else list(session.scalars(select(Agency.id)))
        )
        rows, total = access.list_grants(
            session, owner_ids=ids, consumer_ids=ids, history=history, page_size=10_000
        )
        grants = queries.grants_json(session, rows)
    table = Table(title=f"{total} grants")
    for column in ("id", "service", "owner", "consumer", "system", "items", "state", "expires"):
        table.add_column(column)
    for g in grants:
        table.add_row(
            str(g["id"]),
            f"{g['dataset']}/{g['service']}",
            g["owner_agency"],
            g["consumer_agency"],
            g["consumer_system"],
            ", ".join(g["items"]),
            g["state"] + ("" if g["current"] else " (superseded)"),
            format_datetime(g["expires_at"]),
        )
    console.print(table)


@app.command("log")
def log(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help='From "YYYY-MM-DD" (UTC), default the last 24 hours.')
    ] = None,
    dataset: Annotated[str | None, typer.Option()] = None,
    outcome: Annotated[str | None, typer.Option(help="ok, no_grant, item_not_granted …")] = None,
    verify: Annotated[bool, typer.Option(help="Also check every row against the chain.")] = False,
) -> None:
    """The sharing log: every call, allowed or refused."""
    try:
        start = (
            datetime.fromisoformat(since).replace(tzinfo=UTC)
            if since
            else datetime.now(UTC) - timedelta(days=1)
        )
    except ValueError:
        console.print(f"[red]invalid --since[/] {since!r}: use YYYY-MM-DD")
        raise typer.Exit(2) from None
    with command_unit(ctx) as session:
        rows, total = sharelog.list_calls(
            session,
            everything=True,
            dataset=dataset,
            outcome=outcome,
            since=start,
            page_size=100_000,
        )
        calls = queries.calls_json(session, rows)
        tampered = sharelog.tampered(session, since=start) if verify else []
    table = Table(title=f"{total} calls since {format_datetime(start)}")
    for column in ("at", "consumer", "system", "service", "purpose", "outcome", "records", "ms"):
        table.add_column(column)
    for c in calls:
        table.add_row(
            format_datetime(c["at"]),
            c["consumer_agency"] or "",
            c["consumer_system"],
            f"{c['dataset']}/{c['service']}",
            c["purpose"] or "",
            c["outcome"],
            str(c["record_count"]),
            str(c["duration_ms"]),
        )
    console.print(table)
    if verify:
        if tampered:
            console.print(f"[red]{len(tampered)} rows do not match the chain:[/] {tampered}")
            raise typer.Exit(1)
        console.print("[green]every row matches the message log[/]")


@app.command("link")
def link(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    subject: Annotated[str, typer.Argument(help="A personal ID number or a tax code.")],
    kind: Annotated[str, typer.Option(help="person_id or tax_code")] = "person_id",
) -> None:
    """Link a person's account to an identifier verified at the counter."""
    with command_unit(ctx) as session:
        user = session.scalars(select(User).where(User.username == username.lower())).first()
        if user is None:
            console.print(f"[red]no account {username!r}[/]")
            raise typer.Exit(2)
        sharelog.link_subject(session, user_id=user.id, subject=subject, kind=kind)
    console.print(f"{username} ↔ {subject}")
