"""The registers as a clerk reads them (Decree 30/2020 Phụ lục IV): the lines of an agency's
outgoing or incoming register for a year, filtered and paged, exported as CSV and printed as
the register's PDF."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from lienthong.exchange.clerk_models import PdfSignatureCheck, RegisterEntry
from lienthong.exchange.models import Delivery, Document
from lienthong.exchange.registers import INCOMING, OUTGOING
from lienthong.kernel.clock import LOCAL_ZONE, start_of_local_day
from lienthong.registry.models import Agency

BOOKS = (OUTGOING, INCOMING)
TITLES = {
    OUTGOING: ("SỔ ĐĂNG KÝ VĂN BẢN ĐI", "Outgoing register"),
    INCOMING: ("SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", "Incoming register"),
}


@dataclass(frozen=True)
class Filter:
    year: int
    q: str | None = None  # in the subject or the number/notation
    other: str | None = None  # the sender (incoming) or a recipient (outgoing), by code
    date_from: date | None = None
    date_to: date | None = None


@dataclass
class Line:
    number: str  # the register's own number (outgoing: the document's; incoming: arrival)
    registered_at: datetime
    document: Document
    sender: Agency
    recipients: list[Agency]
    pdf_state: str | None


def _query(agency: Agency, book: str, filters: Filter) -> Select[RegisterEntry, Document, Agency]:
    sender = aliased(Agency)
    stmt = (
        select(RegisterEntry, Document, sender)
        .join(Document, Document.id == RegisterEntry.document_fk)
        .join(sender, sender.id == Document.sender_id)
        .where(
            RegisterEntry.agency_id == agency.id,
            RegisterEntry.book == book,
            RegisterEntry.year == filters.year,
        )
    )
    if filters.q:
        like = f"%{filters.q.strip()}%"
        stmt = stmt.where(
            or_(
                Document.subject.ilike(like),
                Document.code_notation.ilike(like),
                Document.code_number == filters.q.strip(),
            )
        )
    if filters.other:
        if book == INCOMING:
            stmt = stmt.where(sender.code == filters.other)
        else:
            stmt = stmt.where(
                Document.id.in_(
                    select(Delivery.document_fk)
                    .join(Agency, Agency.id == Delivery.recipient_id)
                    .where(Agency.code == filters.other)
                )
            )
    if filters.date_from:
        stmt = stmt.where(RegisterEntry.registered_at >= start_of_local_day(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(
            RegisterEntry.registered_at
            < start_of_local_day(date.fromordinal(filters.date_to.toordinal() + 1))
        )
    return stmt


def lines(
    session: Session,
    *,
    agency: Agency,
    book: str,
    filters: Filter,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Line], int]:
    """One page of the register, in register order (number 01 first)."""
    stmt = _query(agency, book, filters)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(RegisterEntry.registered_at, RegisterEntry.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return _lines(session, rows), int(total)


def all_lines(session: Session, *, agency: Agency, book: str, filters: Filter) -> Iterator[Line]:
    """Every line, a page at a time (the export of a whole year stays small in memory)."""
    page = 1
    while True:
        found, _ = lines(
            session, agency=agency, book=book, filters=filters, page=page, page_size=500
        )
        yield from found
        if len(found) < 500:
            return
        page += 1


def _lines(session: Session, rows: Sequence[Any]) -> list[Line]:
    ids = [d.id for _, d, _ in rows]
    recipients: dict[int, list[Agency]] = {i: [] for i in ids}
    states: dict[int, str] = {}
    if ids:
        for document_fk, recipient in session.execute(
            select(Delivery.document_fk, Agency)
            .join(Agency, Agency.id == Delivery.recipient_id)
            .where(Delivery.document_fk.in_(ids))
            .order_by(Agency.code)
        ):
            recipients[document_fk].append(recipient)
        order = {"green": 0, "amber": 1, "red": 2}
        for document_fk, state in session.execute(
            select(PdfSignatureCheck.document_fk, PdfSignatureCheck.state).where(
                PdfSignatureCheck.document_fk.in_(ids)
            )
        ):
            if order[state] >= order.get(states.get(document_fk, "green"), 0):
                states[document_fk] = state
    return [
        Line(e.number, e.registered_at, d, s, recipients[d.id], states.get(d.id))
        for e, d, s in rows
    ]


def shown_number(document: Document) -> str:
    if not document.code_number:
        return ""
    return (
        f"{document.code_number}/{document.code_notation}"
        if document.code_notation
        else document.code_number
    )


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_ZONE).date()
    return value.strftime("%d/%m/%Y")


HEADERS = {
    OUTGOING: [
        "Số, ký hiệu văn bản",
        "Ngày tháng văn bản",
        "Tên loại và trích yếu nội dung",
        "Người ký",
        "Nơi nhận văn bản",
        "Chữ ký số trên PDF",
        "Ghi chú",
    ],
    INCOMING: [
        "Ngày đến",
        "Số đến",
        "Tác giả",
        "Số, ký hiệu",
        "Ngày tháng",
        "Tên loại và trích yếu nội dung",
        "Chữ ký số trên PDF",
        "Ghi chú",
    ],
}


def row(book: str, line: Line) -> list[str]:
    d = line.document
    subject = " — ".join(x for x in (d.type_name, d.subject) if x)
    state = line.pdf_state or ""
    if book == OUTGOING:
        return [
            shown_number(d),
            _day(d.promulgation_date),
            subject,
            d.signer_name or "",
            "; ".join(r.name for r in line.recipients),
            state,
            "",
        ]
    return [
        _day(line.registered_at),
        line.number,
        line.sender.name,
        shown_number(d),
        _day(d.promulgation_date),
        subject,
        state,
        "",
    ]


def csv_chunks(book: str, found: Iterator[Line]) -> Iterator[str]:
    """CSV with a BOM (spreadsheets then read Vietnamese as UTF-8), one line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS[book])
    yield "\ufeff" + buffer.getvalue()
    for line in found:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row(book, line))
        yield buffer.getvalue()


_FONTS = (
    Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"),
    Path(__file__).parents[1] / "onestop" / "fonts" / "DejaVuSans.ttf",
)


@cache
def font_name() -> str:
    """A font with Vietnamese glyphs registered for reportlab (Times New Roman's metrics)."""
    name = "LienthongRegister"
    path = next(p for p in _FONTS if p.exists())
    pdfmetrics.registerFont(TTFont(name, str(path)))
    return name


def register_pdf(agency: Agency, book: str, year: int, found: Iterator[Line]) -> bytes:
    """The printable register of Phụ lục IV: the agency, the year, one row per line."""
    font = font_name()
    title = ParagraphStyle("title", fontName=font, fontSize=14, leading=18, alignment=TA_CENTER)
    head = ParagraphStyle("head", fontName=font, fontSize=11, leading=14, alignment=TA_CENTER)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=10.5)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"{TITLES[book][0]} {year} — {agency.name}",
    )
    data = [[Paragraph(escape(h), cell) for h in HEADERS[book]]]
    data += [[Paragraph(escape(v), cell) for v in row(book, line)] for line in found]
    widths = [30, 24, 80, 34, 60, 22, 20] if book == OUTGOING else [22, 16, 50, 30, 22, 80, 22, 20]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ]
        )
    )
    doc.build(
        [
            Paragraph(escape(agency.name.upper()), head),
            Spacer(1, 8 * mm),
            Paragraph(escape(f"{TITLES[book][0]}"), title),
            Paragraph(escape(f"Năm {year}"), head),
            Spacer(1, 6 * mm),
            table,
        ]
    )
    return buffer.getvalue()
