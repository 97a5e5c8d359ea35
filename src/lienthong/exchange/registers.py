"""Registers (sổ đăng ký) of Decree 30/2020: each agency numbers its outgoing and its incoming
documents from 01 each year (art. 15), and the number with its notation identifies a document.

The next number is taken inside the sending transaction with one upsert on the register's
counter row, which PostgreSQL locks until commit: concurrent senders of one agency queue on it,
and a send that is refused rolls its number back with it, so numbers have no gap and no
duplicate.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from lienthong.exchange.models import AgencyNotation, RegisterCounter
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


def take_number(session: Session, *, agency: Agency, year: int, book: str = OUTGOING) -> int:
    """The next number of the agency's register for the year, taken in the caller's
    transaction (rolled back with it)."""
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        upsert(RegisterCounter)
        .values(agency_id=agency.id, year=year, book=book, last_number=1)
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
