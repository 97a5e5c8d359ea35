"""`lienthong net …`: import the inventory, one probe now, the network's state, the month's SLA."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lienthong.config import Settings
from lienthong.kernel.clock import local_today
from lienthong.kernel.commands import command_unit
from lienthong.netmon import figures, inventory, prober
from lienthong.registry.cli import progress_bar

app = typer.Typer(help="The provincial WAN and video-conference network.", no_args_is_help=True)
console = Console()


class Kind(StrEnum):
    links = "links"
    endpoints = "endpoints"


@app.command("import")
def import_inventory(
    ctx: typer.Context,
    kind: Kind,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import links or endpoints from CSV (the export's columns): all rows or none."""
    settings: Settings = ctx.obj
    text = file.read_text(encoding="utf-8-sig")
    do = inventory.import_links if kind == Kind.links else inventory.import_endpoints
    with (
        progress_bar(console, kind.value.title()) as (progress, task),
        command_unit(ctx) as session,
    ):
        result = do(
            session,
            text=text,
            interval=settings.netmon_interval_seconds,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(f"{result.rows} rows: {result.created} created, {result.updated} updated")


@app.command("probe")
def probe(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="A circuit id, link:<id>, endpoint:<id> or an address.")
    ],
    store: Annotated[bool, typer.Option(help="Record the result like a scheduled probe.")] = False,
) -> None:
    """Probe one target now and print the result."""
    settings: Settings = ctx.obj
    with command_unit(ctx) as session:
        found = inventory.find_target(session, name=target)
        outcome = prober.probe_now(session, settings=settings, target=found, store=store)
        console.print(
            f"{found.module} {found.address}: "
            + ("[green]up[/]" if outcome.success else "[red]down[/]")
            + (f" rtt {outcome.rtt_ms:.2f} ms" if outcome.rtt_ms is not None else "")
            + (f" loss {outcome.loss_pct:g} %" if outcome.loss_pct is not None else "")
            + (
                f" min/max {outcome.min_ms}/{outcome.max_ms} ms"
                if outcome.min_ms is not None
                else ""
            )
            + (f" · {outcome.detail}" if outcome.detail else "")
        )
    if not outcome.success:
        raise typer.Exit(1)


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Links and endpoints per status, per area, and alerts open."""
    with command_unit(ctx) as session:
        summary = figures.network_summary(session)
    table = Table("", *figures.STATUS_ORDER)
    table.add_row("links", *(str(summary["links"][s]) for s in figures.STATUS_ORDER))
    table.add_row("endpoints", *(str(summary["endpoints"][s]) for s in figures.STATUS_ORDER))
    for area in summary["areas"]:
        table.add_row(area["area_name"], *(str(area[s]) for s in figures.STATUS_ORDER))
    console.print(table)
    console.print(f"open alerts: {summary['open_alerts']}")


@app.command("sla")
def sla(
    ctx: typer.Context,
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM (Vietnam time); this month by default.")
    ] = None,
) -> None:
    """Each link's availability over the month against its provider's target."""
    from lienthong.netmon.api import parse_month

    settings: Settings = ctx.obj
    with command_unit(ctx) as session:
        first: date = parse_month(month) if month else local_today().replace(day=1)
        rows = figures.sla_report(session, settings=settings, month=first)
    table = Table("circuit", "provider", "site", "probes", "availability %", "target %", "met")
    for r in rows:
        table.add_row(
            r["circuit_id"],
            r["provider"],
            r["site_name"],
            str(r["probes"]),
            "—" if r["availability_pct"] is None else f"{r['availability_pct']:.3f}",
            f"{r['target_pct']:g}",
            {True: "yes", False: "[red]no[/]", None: "—"}[r["met"]],
        )
    console.print(table)
