"""`lienthong onestop …`: deadlines by hand, the procedure catalogue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from lienthong.config import Settings
from lienthong.kernel.clock import LOCAL_ZONE
from lienthong.kernel.commands import command_unit
from lienthong.onestop import catalogue, service
from lienthong.registry.cli import progress_bar

app = typer.Typer(help="One-stop public services.", no_args_is_help=True)
console = Console()


@app.command("deadline")
def deadline(
    ctx: typer.Context,
    received: Annotated[
        str, typer.Option(help='When the dossier was received, "YYYY-MM-DD HH:MM" (Vietnam time).')
    ],
    working_days: Annotated[int | None, typer.Option("--working-days", min=0)] = None,
    hours: Annotated[float | None, typer.Option("--hours", min=0, help="Working hours.")] = None,
    calendar_days: Annotated[int | None, typer.Option("--calendar-days", min=0)] = None,
) -> None:
    """Print the due time in ISO 8601, so an operator can check any case by hand."""
    if working_days is None and hours is None and calendar_days is None:
        console.print("[red]give --working-days, --hours or --calendar-days[/]")
        raise typer.Exit(2)
    try:
        start = datetime.strptime(received.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=LOCAL_ZONE)
    except ValueError:
        console.print(f'[red]invalid --received[/] {received!r}: use "YYYY-MM-DD HH:MM"')
        raise typer.Exit(2) from None
    settings: Settings = ctx.obj
    cal = service.calendar(settings)
    if calendar_days is not None:
        due = cal.due(start, calendar_days=calendar_days)
    else:
        due = cal.due(start, working_days=working_days, working_hours=hours)
    print(due.isoformat())


@app.command("import")
def import_procedures(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import procedures from CSV (the columns of onestop/seed/procedures.csv): all rows or none."""
    text = file.read_text(encoding="utf-8-sig")
    with progress_bar(console, "Procedures") as (progress, task), command_unit(ctx) as session:
        result = catalogue.import_csv(
            session,
            text=text,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(f"{result.rows} rows: {result.created} created, {result.updated} updated")
