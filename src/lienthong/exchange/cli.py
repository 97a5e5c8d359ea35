"""`lienthong doc …` and `lienthong log …`."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lienthong.config import Settings
from lienthong.exchange import compose, log, register_book, service, tsa
from lienthong.exchange import statuses as sc
from lienthong.exchange.models import Delivery, Document
from lienthong.kernel.clock import local_today
from lienthong.kernel.commands import command_unit
from lienthong.registry import service as registry
from lienthong.registry.models import Agency
from lienthong.runtime import build_runtime

doc_app = typer.Typer(help="Official documents: send, inbox, show.", no_args_is_help=True)
log_app = typer.Typer(help="The hash-chained message log.", no_args_is_help=True)
console = Console()


@doc_app.command("send")
def send(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, help="PDF files to attach.")
    ],
    sender: Annotated[str, typer.Option("--from", help="Sending agency code.")],
    to: Annotated[list[str], typer.Option("--to", help="Recipient agency code (repeat).")],
    subject: Annotated[str, typer.Option(help="Trích yếu.")] = "Văn bản gửi từ dòng lệnh",
    priority: Annotated[int, typer.Option(min=0, max=4)] = 0,
    type_name: Annotated[
        str,
        typer.Option("--type", help="Document type of Decree 30/2020 (Công văn, Quyết định …)."),
    ] = "Công văn",
    drafting_unit: Annotated[
        str | None, typer.Option(help="Drafting unit's abbreviation in the notation, e.g. VP.")
    ] = None,
    sign: Annotated[
        bool, typer.Option(help="Sign the PDFs: the signer, then the agency (Decree 30/2020).")
    ] = False,
    signer: Annotated[str | None, typer.Option(help="The competent person who signs.")] = None,
    title: Annotated[str | None, typer.Option(help="The signer's title (chức vụ).")] = None,
) -> None:
    """Build a package from PDFs, number it from the sender's outgoing register, sign it with
    the sender's remote-signing key, and send it."""
    settings: Settings = ctx.obj
    runtime = build_runtime(settings)
    uploads = [compose.Upload(f.name, io.BytesIO(f.read_bytes())) for f in files]
    with command_unit(ctx) as session:
        answer = compose.send(
            session,
            runtime,
            sender_code=sender,
            draft=compose.Draft(
                recipients=to,
                subject=subject,
                priority=priority,
                type_name=type_name,
                drafting_unit=drafting_unit,
                uploads=uploads,
                sign_pdfs=sign,
                signer=signer,
                signer_title=title,
            ),
        )
    print(json.dumps(answer, ensure_ascii=False, indent=2))


@doc_app.command("inbox")
def inbox(ctx: typer.Context, code: str, page: int = 1, unread: bool = False) -> None:
    """An agency's inbox, unread first."""
    with command_unit(ctx) as session:
        agency = registry.get_agency(session, code=code)
        rows, total = service.inbox(
            session,
            agency=agency,
            filters=service.InboxFilter(unread=True if unread else None),
            page=page,
            page_size=50,
        )
        table = Table(title=f"{agency.name}: {total}")
        for column in ("id", "from", "subject", "priority", "status", "arrived"):
            table.add_column(column)
        for delivery, document, sender in rows:
            table.add_row(
                str(document.id),
                sender.code,
                (document.subject or "")[:60],
                str(document.priority),
                f"{delivery.status_code} {sc.label(delivery.status_code)}",
                delivery.delivered_at.isoformat(timespec="seconds")
                if delivery.delivered_at
                else "",
            )
    console.print(table)


@doc_app.command("show")
def show(ctx: typer.Context, document_id: int) -> None:
    """A document with each recipient's status history, as JSON."""
    with command_unit(ctx) as session:
        document = session.get(Document, document_id)
        if document is None:
            console.print(f"[red]unknown_document[/]: {document_id}")
            raise typer.Exit(2)
        deliveries = session.query(Delivery).filter(Delivery.document_fk == document.id).all()
        history = service.history(session, [d.id for d in deliveries])
        out = {
            "id": document.id,
            "document_id": document.document_id,
            "subject": document.subject,
            "sender": session.get_one(Agency, document.sender_id).code,
            "signature": document.signature,
            "recipients": [
                {
                    "code": session.get_one(Agency, d.recipient_id).code,
                    "state": d.state,
                    "route": d.route,
                    "note": d.note,
                    "history": [[s.code, s.at.isoformat()] for s in history[d.id]],
                }
                for d in deliveries
            ],
        }
    print(json.dumps(out, ensure_ascii=False, indent=2))


@doc_app.command("register")
def register(
    ctx: typer.Context,
    code: str,
    book: Annotated[str, typer.Option(help="outgoing or incoming")] = "outgoing",
    year: Annotated[int | None, typer.Option(help="Year (this year by default).")] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Write the whole register as CSV here.")
    ] = None,
    pdf_out: Annotated[
        Path | None, typer.Option("--pdf", help="Write the printable register (PDF) here.")
    ] = None,
) -> None:
    """An agency's outgoing or incoming register for a year (Decree 30/2020, Phụ lục IV)."""
    if book not in register_book.BOOKS:
        console.print(f"[red]--book[/] must be one of {', '.join(register_book.BOOKS)}")
        raise typer.Exit(2)
    with command_unit(ctx) as session:
        agency = registry.get_agency(session, code=code)
        filters = register_book.Filter(year or local_today().year)
        if csv_out is not None:
            lines = register_book.all_lines(session, agency=agency, book=book, filters=filters)
            csv_out.write_text("".join(register_book.csv_chunks(book, lines)), encoding="utf-8")
        if pdf_out is not None:
            lines = register_book.all_lines(session, agency=agency, book=book, filters=filters)
            pdf_out.write_bytes(register_book.register_pdf(agency, book, filters.year, lines))
        table = Table(title=f"{agency.name}: {book} {filters.year}")
        for column in register_book.HEADERS[book][:-1]:
            table.add_column(column)
        for line in register_book.all_lines(session, agency=agency, book=book, filters=filters):
            table.add_row(*register_book.row(book, line)[:-1])
    console.print(table)


@log_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Walk the chain; report the first entry where it breaks, and check the signed checkpoints."""
    runtime = build_runtime(ctx.obj)
    with command_unit(ctx) as session:
        result = log.verify(session, keys=runtime.keys)
    if result.first_broken_id is not None or result.first_bad_checkpoint_id is not None:
        if result.first_broken_id is not None:
            console.print(
                f"[red]chain broken at entry {result.first_broken_id}[/] (after {result.entries - 1} good)"
            )
        if result.first_bad_checkpoint_id is not None:
            console.print(f"[red]checkpoint {result.first_bad_checkpoint_id} does not verify[/]")
        raise typer.Exit(1)
    console.print(
        f"{result.entries} entries, chain intact; {result.checkpoints_ok} signed checkpoints verified."
    )


@log_app.command("checkpoint")
def checkpoint(ctx: typer.Context) -> None:
    """Sign the chain's head now."""
    runtime = build_runtime(ctx.obj)
    with command_unit(ctx) as session:
        mark = log.checkpoint(session, keys=runtime.keys)
        stamp = tsa.stamp_checkpoint(session, runtime, mark) if mark is not None else None
    console.print(
        f"checkpoint at entry {mark.entry_id}, time-stamped {stamp.gen_time.isoformat()}"
        if mark and stamp
        else "the log is empty"
    )
