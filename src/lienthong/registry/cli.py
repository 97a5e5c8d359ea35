"""`lienthong org …`: import, export, show, credentials, merge, dissolve."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from lienthong.accounts import service as accounts
from lienthong.config import Settings
from lienthong.kernel.commands import command_unit, fail, session_factory
from lienthong.kernel.errors import AppError
from lienthong.registry import service, transfer

app = typer.Typer(help="The agency registry.", no_args_is_help=True)
console = Console()
EffectiveOn = Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")]


@contextmanager
def progress_bar(target: Console, label: str = "Agencies") -> Iterator[tuple[Progress, TaskID]]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=target,
    ) as progress:
        yield progress, progress.add_task(label, total=None)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        console.print(f"[red]invalid date[/]: {text} (YYYY-MM-DD)")
        raise typer.Exit(2) from None


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    dry_run: Annotated[
        bool, typer.Option(help="Check the file and report, change nothing.")
    ] = False,
) -> None:
    """Import agencies from CSV: all rows or none; every bad row reported with its line."""
    settings: Settings = ctx.obj
    text = file.read_text(encoding="utf-8-sig")
    session = session_factory(ctx)()
    try:
        with progress_bar(console) as (progress, task):
            result = transfer.import_csv(
                session,
                text=text,
                actor=f"cli:{file.name}",
                default_node=settings.node_code,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        if dry_run:
            session.rollback()
            console.print("Dry run: nothing changed.")
        else:
            session.commit()
    except AppError as exc:
        session.rollback()
        fail(exc)
    finally:
        session.close()
    console.print(
        f"{result.rows} rows: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )


@app.command("export")
def export_file(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default stdout).")
    ] = None,
) -> None:
    """Export the whole registry as CSV (reads back through `org import`)."""
    with session_factory(ctx)() as session:
        target = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
        try:
            for chunk in transfer.export_csv(session):
                target.write(chunk)
        finally:
            if out:
                target.close()


@app.command("show")
def show(ctx: typer.Context, code: str) -> None:
    """Print one agency as JSON."""
    with command_unit(ctx) as session:
        data = service.describe(session, [service.get_agency(session, code=code)])[0]
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@app.command("credentials")
def credentials(
    ctx: typer.Context,
    code: str,
    freshness: Annotated[
        int | None,
        typer.Option(
            help="Seconds of clock skew allowed on the SDK's XroadVnpt-timestamp (only for "
            "software that re-stamps every call; default: no freshness check)."
        ),
    ] = None,
    clock_zone: Annotated[
        str | None, typer.Option(help="The zone the software's clock writes (default Vietnam).")
    ] = None,
) -> None:
    """Issue credentials for an agency's software; prints {"system_id", "secret"} once."""
    from lienthong.runtime import build_runtime

    box = build_runtime(ctx.obj).keys.secret_box()
    with command_unit(ctx) as session:
        system_id, secret = accounts.issue_credential(session, agency_code=code, seal=box.encrypt)
        if freshness is not None or clock_zone is not None:
            accounts.set_freshness(
                session, system_id=system_id, max_skew_seconds=freshness, clock_zone=clock_zone
            )
    print(json.dumps({"system_id": system_id, "secret": secret}))


@app.command("freshness")
def freshness(
    ctx: typer.Context,
    system_id: str,
    seconds: Annotated[str, typer.Argument(help="Allowed skew in seconds, or 'off'.")],
    clock_zone: Annotated[
        str | None, typer.Option(help="The zone the software's clock writes (default Vietnam).")
    ] = None,
) -> None:
    """Ask software that re-stamps every call for a fresh SDK timestamp (or stop asking)."""
    skew = None if seconds.strip().lower() == "off" else int(seconds)
    with command_unit(ctx) as session:
        accounts.set_freshness(
            session, system_id=system_id, max_skew_seconds=skew, clock_zone=clock_zone
        )
    console.print(f"{system_id}: freshness {'off' if skew is None else f'{skew} s'}")


@app.command("merge")
def merge(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(help="Codes of the agencies that merge.")],
    into: Annotated[str, typer.Option("--into", help="Code of the successor.")],
    effective_on: EffectiveOn = None,
) -> None:
    """Merge several agencies into one successor."""
    with command_unit(ctx) as session:
        service.merge(
            session,
            source_codes=sources,
            successor_code=into,
            effective_on=_day(effective_on),
            actor="cli",
        )
    console.print(f"Merged {', '.join(sources)} into {into}.")


@app.command("dissolve")
def dissolve(
    ctx: typer.Context,
    code: str,
    successor: Annotated[
        list[str] | None, typer.Option("--successor", help="Successor code (repeat).")
    ] = None,
    effective_on: EffectiveOn = None,
) -> None:
    """Dissolve an agency, naming the successors that take its work."""
    with command_unit(ctx) as session:
        service.dissolve(
            session,
            code=code,
            successor_codes=successor or [],
            effective_on=_day(effective_on),
            actor="cli",
        )
    console.print(f"Dissolved {code}.")


@app.command("remote-signing")
def remote_signing(ctx: typer.Context, code: str) -> None:
    """Give an agency a remote-signing key and certificate under the node's CA."""
    from lienthong.kernel.pki import FileKeyStore
    from lienthong.runtime import build_runtime

    keys = build_runtime(ctx.obj).keys
    with command_unit(ctx) as session:
        agency = service.get_agency(session, code=code)
    assert isinstance(keys, FileKeyStore)
    identity = keys.ensure_agency(agency.code, agency.name)
    console.print(
        f"{agency.code}: {identity.chain[0].subject.rfc4514_string()}, "
        f"valid until {identity.chain[0].not_valid_after_utc:%Y-%m-%d}"
    )
