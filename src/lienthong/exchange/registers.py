"""Registers (sổ đăng ký) of Decree 30/2020: each agency numbers its outgoing and its incoming
documents from 01 each year (art. 15), and the number with its notation identifies a document.

The next number is taken inside the sending transaction with one upsert on the register's
counter row, which PostgreSQL locks until commit: concurrent senders of one agency queue on it,
and a send that is refused rolls its number back with it, so numbers have no gap and no
duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lienthong.exchange.clerk_models import RegisterEntry
from lienthong.exchange.models import AgencyNotation, Delivery, Document, RegisterCounter
from lienthong.kernel.clock import local_today, utcnow
from lienthong.kernel.errors import Conflict
from lienthong.registry.models import Agency, AgencyKind

OUTGOING, INCOMING = "outgoing", "incoming"

# Phụ lục III of Decree 30/2020: the abbreviation of each type's name in a notation. Công văn
# has none (its notation is the issuing body and the drafting unit).
TYPE_ABBREVIATIONS = {
    "Nghị quyết": "NQ",
    "Quyết định": "QĐ",
    "Chỉ thị": "CT",
    "Quy chế": "QC",
    "Quy định": "QyĐ",
    "Thông cáo": "TC",
    "Thông báo": "TB",
    "Hướng dẫn": "HD",
    "Chương trình": "CTr",
    "Kế hoạch": "KH",
    "Phương án": "PA",
    "Đề án": "ĐA",
    "Dự án": "DA",
    "Báo cáo": "BC",
    "Biên bản": "BB",
    "Tờ trình": "TTr",
    "Hợp đồng": "HĐ",
    "Công văn": "",
    "Công điện": "CĐ",
    "Bản ghi nhớ": "BGN",
    "Bản thỏa thuận": "BTT",
    "Giấy ủy quyền": "GUQ",
    "Giấy mời": "GM",
    "Giấy giới thiệu": "GGT",
    "Giấy nghỉ phép": "GNP",
    "Phiếu gửi": "PG",
    "Phiếu chuyển": "PC",
    "Phiếu báo": "PB",
    "Thư công": "",
    # Phụ lục III, I: electronic copies (exchange/copies.py).
    "Bản sao y": "SY",
    "Bản trích sao": "TrS",
    "Bản sao lục": "SL",
}
_PEOPLES_COMMITTEES = {
    AgencyKind.PROVINCIAL_COMMITTEE,
    AgencyKind.DISTRICT,
    AgencyKind.COMMUNE,
    AgencyKind.WARD,
    AgencyKind.TOWNSHIP,
    AgencyKind.SPECIAL_ZONE,
}
_SMALL_WORDS = {"và", "của", "cho", "các", "về"}


def default_abbreviation(agency: Agency) -> str:
    """What the agency writes in its notations unless told otherwise: UBND and HĐND for
    People's Committees and Councils, else the initials of its name (Sở Nội vụ → SNV)."""
    if agency.kind in _PEOPLES_COMMITTEES:
        return "UBND"
    if agency.kind == AgencyKind.PEOPLES_COUNCIL:
        return "HĐND"
    name = agency.short_name or agency.name
    words = [w for w in name.replace("-", " ").split() if w.lower() not in _SMALL_WORDS]
    return "".join(w[0].upper() for w in words if w[0].isalpha())[:12] or "CQ"


def abbreviation(session: Session, agency: Agency) -> str:
    chosen = session.get(AgencyNotation, agency.id)
    return chosen.abbreviation if chosen is not None else default_abbreviation(agency)


def set_abbreviation(session: Session, *, agency: Agency, value: str) -> AgencyNotation:
    row = session.get(AgencyNotation, agency.id)
    if row is None:
        row = AgencyNotation(agency_id=agency.id, abbreviation=value.strip())
        session.add(row)
    else:
        row.abbreviation = value.strip()
    session.flush()
    return row


def _upsert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def take_number(session: Session, *, agency: Agency, year: int, book: str = OUTGOING) -> int:
    """The next number of the agency's register for the year, taken in the caller's
    transaction (rolled back with it)."""
    return _take(session, agency_id=agency.id, year=year, book=book)


def _take(session: Session, *, agency_id: int, year: int, book: str) -> int:
    stmt = (
        _upsert(session)(RegisterCounter)
        .values(agency_id=agency_id, year=year, book=book, last_number=1)
        .on_conflict_do_update(
            index_elements=["agency_id", "year", "book"],
            set_={"last_number": RegisterCounter.last_number + 1},
        )
        .returning(RegisterCounter.last_number)
    )
    return int(session.execute(stmt).scalar_one())


def last_number(session: Session, *, agency: Agency, year: int, book: str = OUTGOING) -> int:
    found = session.scalar(
        select(RegisterCounter.last_number).where(
            RegisterCounter.agency_id == agency.id,
            RegisterCounter.year == year,
            RegisterCounter.book == book,
        )
    )
    return int(found or 0)


def format_number(number: int) -> str:
    """Phụ lục I, I.3: Arabic digits, a leading 0 below 10."""
    return f"{number:02d}"


def notation(
    session: Session, *, agency: Agency, type_name: str, drafting_unit: str | None = None
) -> str:
    """Type abbreviation, issuing body, drafting unit, joined by '-' (07/QĐ-UBND,
    12/SNV-VP for a Công văn)."""
    parts = [TYPE_ABBREVIATIONS.get(type_name.strip(), ""), abbreviation(session, agency)]
    if drafting_unit and drafting_unit.strip():
        parts.append(drafting_unit.strip())
    return "-".join(p for p in parts if p)


def national_document_id(sender_code: str, day: date, number: str, code_notation: str) -> str:
    """The national axis' DocumentId: sender code, date, number/notation."""
    return f"{sender_code},{day:%Y/%m/%d},{number}/{code_notation}"


# Business types that issue a document of their own (new, replacement); a recall or an update
# speaks of a document already registered and keeps its number.
_ISSUING = (0, 3)


def record_outgoing(
    session: Session, *, document: Document, sender: Agency
) -> RegisterEntry | None:
    """Write a document that arrived from one of this node's agencies into its outgoing
    register. Its number and notation may not have been used by another document of the
    agency in the year (409 `register_number_reused`). A numeric number given by the agency's
    own software moves the register's counter past it, so the composer never gives it again."""
    if document.business_type not in _ISSUING or not (document.code_number or "").strip():
        return None
    number = document.code_number.strip()  # type: ignore[union-attr]
    code_notation = (document.code_notation or "").strip()
    year = (document.promulgation_date or local_today()).year
    used = session.scalars(
        select(RegisterEntry).where(
            RegisterEntry.agency_id == sender.id,
            RegisterEntry.book == OUTGOING,
            RegisterEntry.year == year,
            RegisterEntry.number == number,
            RegisterEntry.notation == code_notation,
        )
    ).first()
    if used is not None:
        shown = f"{number}/{code_notation}" if code_notation else number
        raise Conflict(
            f"Số, ký hiệu {shown} đã được {sender.code} dùng cho văn bản khác trong năm {year}.",
            f"Number and notation {shown} were already used by {sender.code} in {year}.",
            code="register_number_reused",
            details={
                "number": number,
                "notation": code_notation,
                "year": year,
                "document": used.document_fk,
            },
        )
    if number.isdigit():
        value = int(number)
        stmt = (
            _upsert(session)(RegisterCounter)
            .values(agency_id=sender.id, year=year, book=OUTGOING, last_number=value)
            .on_conflict_do_update(
                index_elements=["agency_id", "year", "book"],
                set_={
                    "last_number": case(
                        (RegisterCounter.last_number < value, value),
                        else_=RegisterCounter.last_number,
                    )
                },
            )
        )
        session.execute(stmt)
    entry = RegisterEntry(
        agency_id=sender.id,
        book=OUTGOING,
        year=year,
        number=number,
        notation=code_notation,
        document_fk=document.id,
        registered_at=utcnow(),
    )
    session.add(entry)
    return entry


def record_arrivals(session: Session, *, document: Document, delivered: Sequence[Delivery]) -> None:
    """Give each document placed in a local inbox the next number of its recipient's incoming
    register for the year (in the caller's transaction: no gap, no duplicate)."""
    if document.business_type not in _ISSUING:
        return
    year, now = local_today().year, utcnow()
    for delivery in delivered:
        number = _take(session, agency_id=delivery.recipient_id, year=year, book=INCOMING)
        session.add(
            RegisterEntry(
                agency_id=delivery.recipient_id,
                book=INCOMING,
                year=year,
                number=format_number(number),
                notation="",
                document_fk=document.id,
                delivery_id=delivery.id,
                registered_at=now,
            )
        )
