"""`lienthong sec …`: check rules, replay a log file through them, list and add sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape

from lienthong.config import Settings
from lienthong.kernel.commands import command_unit
from lienthong.security import events
from lienthong.security.detection import load_rules
from lienthong.security.loops import rule_folders
from lienthong.security.models import LEVELS
from lienthong.security.replay import replay

app = typer.Typer(
    help="Security monitoring: Sigma rules, replays, log sources.", no_args_is_help=True
)
rules_app = typer.Typer(help="Sigma rules.", no_args_is_help=True)
source_app = typer.Typer(help="Log sources.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(source_app, name="source")
console = Console()


@rules_app.command("check")
def rules_check(
    folder: Annotated[Path, typer.Argument(help="A folder (or file) of Sigma YAML rules.")],
) -> None:
    """Load each rule and report it: loaded, or failed with the reason. Exits 1 on a failure."""
    ruleset = load_rules([folder])
    for rule in ruleset.rules:
        kind = "correlation" if rule.correlation is not None else "rule"
        console.print(
            f"[green]loaded[/] {rule.level:<13} {kind:<11} {escape(rule.title)}", soft_wrap=True
        )
    for failure in ruleset.failures:
        name = failure.title or Path(failure.path).name
        console.print(
            f"[red]failed[/] {escape(name)} ({escape(failure.path)}): {escape(failure.reason)}",
            soft_wrap=True,
        )
    console.print(f"{len(ruleset.rules)} loaded, {len(ruleset.failures)} failed")
    if ruleset.failures:
        raise typer.Exit(1)


@app.command("replay")
def replay_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Syslog, EVE / ECS JSON lines, or an access log.")],
    rules: Annotated[
        Path | None, typer.Option(help="Rules to use (default: shipped and operator's).")
    ] = None,
) -> None:
    """Run a log file through the rules and print the alerts it raises (nothing is stored)."""
    settings: Settings = ctx.obj
    ruleset = load_rules([rules] if rules else rule_folders(settings))
    with file.open("rb") as handle:
        result = replay(handle, ruleset, zone=ZoneInfo(settings.timezone))
    console.print(f"{file}: {result.lines} lines, {result.malformed} not read", soft_wrap=True)
    ordered = sorted(
        result.alerts.values(),
        key=lambda a: (-LEVELS.index(a.level) if a.level in LEVELS else 0, a.first_line),
    )
    for alert in ordered:
        console.print(
            f"{alert.level:<13} ×{alert.count:<5} {escape(alert.title)} · {escape(alert.group)}"
            f" · line {alert.first_line}",
            soft_wrap=True,
        )
    console.print(f"{len(result.alerts)} alerts")


@app.command("sources")
def list_sources(ctx: typer.Context) -> None:
    """Every log source with its counters."""
    with command_unit(ctx) as session:
        for row, per_minute in events.list_sources(session):
            last = row.last_event_at.isoformat(timespec="seconds") if row.last_event_at else "—"
            console.print(
                f"{escape(row.name)} ({row.kind}): {per_minute}/min · {row.events} events · "
                f"{row.dropped} dropped · {row.malformed} malformed · {row.truncated} truncated"
                f" · last {last}",
                soft_wrap=True,
            )


@source_app.command("add")
def add_source(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="e.g. qlvb-ha-long")],
    kind: Annotated[
        str, typer.Option(help="http (gets a token), syslog, access_log, eve")
    ] = "http",
) -> None:
    """Register a source; one that posts over HTTP is given its token, printed once."""
    if kind not in ("http", "syslog", "access_log", "eve"):
        raise typer.BadParameter("kind must be http, syslog, access_log or eve")
    with command_unit(ctx) as session:
        row, token = events.create_source(session, name=name, kind=kind)
        console.print(f"Source {escape(row.name)} ({row.kind}) added.")
    if token:
        console.print(f"Token (shown once): {token}")
        console.print("POST /api/v1/security/events with Authorization: Bearer <token>")
