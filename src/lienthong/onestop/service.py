"""Dossiers: filing, codes, the status flow with its hand-overs and pauses, deadlines in
working days, and what citizens and officers may see."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import IO

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel.blobs import BlobStore
from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.kernel.errors import Invalid, NotFound, TooLarge
from lienthong.onestop import kpis, notices
from lienthong.onestop.calendar import WorkingCalendar
from lienthong.onestop.models import (
    Dossier,
    DossierCounter,
    DossierEvent,
    DossierPaper,
    DossierStatus,
    HandOver,
    Procedure,
)
from lienthong.registry import service as registry
from lienthong.registry.models import COMMUNE_LEVEL_KINDS, Agency, AgencyStatus

S = DossierStatus
CODE_PATTERN = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4,}$")
FILE_TYPES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}
RECEPTION = "Bộ phận một cửa"
ROLE_UNITS = {
    "reception": RECEPTION,
    "processing": "Chuyên viên xử lý",
    "approval": "Lãnh đạo phê duyệt",
    "return": "Bộ phận trả kết quả",
}


@lru_cache(maxsize=8)
def _calendar(extra: tuple[str, ...], make_up: tuple[str, ...]) -> WorkingCalendar:
    return WorkingCalendar.with_days(extra, make_up)


def calendar(settings: Settings) -> WorkingCalendar:
    return _calendar(tuple(settings.onestop_extra_days_off), tuple(settings.onestop_make_up_days))


def due_for(
    cal: WorkingCalendar,
    procedure: Procedure,
    received: datetime,
    paused: Sequence[tuple[datetime, datetime]] = (),
) -> datetime:
    amount = procedure.duration
    if procedure.duration_unit == "working_hours":
        return cal.due(received, working_hours=amount, paused=paused)
    if procedure.duration_unit == "calendar_days":
        return cal.due(received, calendar_days=int(amount), paused=paused)
    whole = int(amount)
    due = cal.due(received, working_days=whole, paused=paused)
    if amount > whole:  # half days: 0.5 working day = half of the working hours
        due = cal.add_working_hours(due, (amount - whole) * 8)
    return due


def next_code(session: Session, *, agency: Agency, day: date) -> str:
    """<agency code>-<yyMMdd>-<NNNN>: one atomic upsert per code, so concurrent filings on
    PostgreSQL never share a number."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DossierCounter)
        .values(agency_id=agency.id, day=day, last=1)
        .on_conflict_do_update(
            index_elements=["agency_id", "day"], set_={"last": DossierCounter.last + 1}
        )
        .returning(DossierCounter.last)
    )
    number = int(session.execute(stmt).scalar_one())
    return f"{agency.code}-{day:%y%m%d}-{number:04d}"


def check_code(code: str) -> str:
    code = code.strip().upper()
    if not CODE_PATTERN.fullmatch(code):
        raise Invalid(
            f"Mã hồ sơ '{code}' không đúng dạng <mã cơ quan>-<yyMMdd>-<số thứ tự>, ví dụ 000.00.84.H49-251203-0001.",
            f"Dossier code '{code}' is not of the form <agency code>-<yyMMdd>-<number>, "
            "e.g. 000.00.84.H49-251203-0001.",
            code="invalid_dossier_code",
            details={"code": code},
        )
    return code


def get_dossier(session: Session, *, code: str) -> Dossier:
    dossier = session.scalars(select(Dossier).where(Dossier.code == check_code(code))).first()
    if dossier is None:
        raise NotFound(f"Không có hồ sơ {code}.", f"No dossier {code}.", code="unknown_dossier")
    return dossier


@dataclass
class Upload:
    paper: str
    filename: str
    handle: IO[bytes]


@dataclass
class Applicant:
    name: str
    kind: str = "person"
    id_number: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


@dataclass
class Filing:
    procedure_code: str
    applicant: Applicant
    channel: str  # counter, online, post
    agency_code: str | None = None
    uploads: list[Upload] = field(default_factory=list)
    citizen_id: int | None = None


def _competent_agency(session: Session, procedure: Procedure, agency_code: str | None) -> Agency:
    if procedure.level == "province":
        assert procedure.agency_id is not None
        return session.get_one(Agency, procedure.agency_id)
    if not agency_code:
        raise Invalid(
            "Chọn xã, phường hoặc đặc khu tiếp nhận hồ sơ.",
            "Choose the commune, ward or special zone that receives the dossier.",
            code="missing_agency",
        )
    agency = registry.get_agency(session, code=agency_code)
    if agency.status != AgencyStatus.ACTIVE or agency.kind not in {
        k.value for k in COMMUNE_LEVEL_KINDS
    }:
        raise Invalid(
            f"{agency.name} không giải quyết thủ tục cấp xã này.",
            f"{agency.name} does not handle this commune-level procedure.",
            code="agency_not_competent",
            details={"agency": agency.code},
        )
    return agency


def store_upload(blobs: BlobStore, upload: Upload, *, max_bytes: int) -> tuple[str, str, int]:
    head = upload.handle.read(8)
    content_type = next((t for magic, t in FILE_TYPES.items() if head.startswith(magic)), None)
    if content_type is None:
        raise Invalid(
            f"Tệp '{upload.filename}' không phải PDF, JPEG hay PNG.",
            f"File '{upload.filename}' is not a PDF, JPEG or PNG.",
            code="file_type_not_allowed",
            details={"file": upload.filename},
        )
    writer = blobs.writer()
    writer.write(head)
    size = len(head)
    while chunk := upload.handle.read(256 * 1024):
        size += len(chunk)
        if size > max_bytes:
            writer.abort()
            raise TooLarge(
                f"Tệp '{upload.filename}' lớn hơn {max_bytes // 2**20} MB.",
                f"File '{upload.filename}' is larger than {max_bytes // 2**20} MB.",
                code="file_too_large",
                details={"file": upload.filename, "limit_bytes": max_bytes},
            )
        writer.write(chunk)
    return writer.finish().sha256, content_type, size


def event(
    session: Session,
    dossier: Dossier,
    action: str,
    *,
    unit: str | None = None,
    actor_id: int | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        DossierEvent(
            dossier_id=dossier.id,
            at=at or utcnow(),
            action=action,
            status=dossier.status,
            unit=unit,
            actor_id=actor_id,
            note=note,
        )
    )


def file_dossier(
    session: Session,
    *,
    settings: Settings,
    blobs: BlobStore,
    filing: Filing,
    officer_id: int | None = None,
) -> Dossier:
    procedure = _procedure(session, filing.procedure_code)
    agency = _competent_agency(session, procedure, filing.agency_code)
    if filing.channel not in ("counter", "online", "post"):
        raise Invalid("Kênh nộp không hợp lệ.", "Unknown channel.", code="invalid_channel")
    if not filing.applicant.name.strip():
        raise Invalid(
            "Nhập họ tên người nộp.", "Enter the applicant's name.", code="missing_applicant"
        )
    given = {u.paper for u in filing.uploads}
    missing = [p["name"] for p in procedure.papers if p.get("required") and p["name"] not in given]
    if filing.channel == "online" and missing:
        raise Invalid(
            "Thiếu giấy tờ bắt buộc: " + "; ".join(missing) + ".",
            "Required papers are missing: " + "; ".join(missing) + ".",
            code="missing_papers",
            details={"missing": missing},
        )
    stored = [
        (u, *store_upload(blobs, u, max_bytes=settings.onestop_max_file_bytes))
        for u in filing.uploads
    ]
    now = utcnow()
    code = next_code(session, agency=agency, day=now.astimezone(LOCAL_ZONE).date())
    applicant = filing.applicant
    dossier = Dossier(
        code=code,
        procedure_id=procedure.id,
        agency_id=agency.id,
        channel=filing.channel,
        applicant_kind=applicant.kind,
        applicant_name=applicant.name.strip(),
        applicant_id_number=applicant.id_number,
        applicant_phone=applicant.phone,
        applicant_email=applicant.email,
        applicant_address=applicant.address,
        citizen_id=filing.citizen_id,
        status=S.SUBMITTED,
        created_at=now,
        fee_vnd=procedure.fee_vnd,
        payment_state="pending" if procedure.fee_vnd else "none",
        digitised=bool(stored),
    )
    session.add(dossier)
    session.flush()
    for upload, sha, content_type, size in stored:
        session.add(
            DossierPaper(
                dossier_id=dossier.id,
                name=upload.paper,
                filename=upload.filename,
                content_type=content_type,
                blob_sha256=sha,
                size=size,
                digitised=True,
            )
        )
    event(
        session,
        dossier,
        "submitted",
        unit="Công dân" if filing.channel != "counter" else RECEPTION,
        actor_id=officer_id,
    )
    if filing.channel == "counter":
        _receive(session, settings, dossier, procedure, agency, officer_id=officer_id, at=now)
    session.flush()
    return dossier


def _procedure(session: Session, code: str) -> Procedure:
    from lienthong.onestop.catalogue import get_procedure

    return get_procedure(session, code=code)


def _receive(
    session: Session,
    settings: Settings,
    dossier: Dossier,
    procedure: Procedure,
    agency: Agency,
    *,
    officer_id: int | None,
    at: datetime,
) -> None:
    cal = calendar(settings)
    dossier.status = S.RECEIVED
    dossier.received_at = at
    dossier.due_at = due_for(cal, procedure, at)
    first = procedure.steps[0] if procedure.steps else {"role": "reception", "share": 10}
    _hand_over(
        session,
        settings,
        dossier,
        procedure,
        to_unit=RECEPTION,
        from_unit="Công dân",
        role=str(first["role"]),
        at=at,
    )
    event(session, dossier, "received", unit=RECEPTION, actor_id=officer_id, at=at)
    notices.tell(session, settings, dossier, "received")
    for measure in ("received", f"received_{dossier.channel}"):
        kpis.bump(session, agency_id=agency.id, at=at, measure=measure)
    if dossier.channel == "online":
        kpis.bump(session, agency_id=agency.id, at=at, measure=f"received_{procedure.online_level}")
    if dossier.fee_vnd:
        kpis.bump(session, agency_id=agency.id, at=at, measure="fee_bearing")
    if dossier.digitised:
        kpis.bump(session, agency_id=agency.id, at=at, measure="digitised")


def _outcome(finished: datetime, due: datetime | None) -> str:
    """Early, on time or late, compared by date (reference §5)."""
    if due is None:
        return "on_time"
    done, limit = finished.astimezone(LOCAL_ZONE).date(), due.astimezone(LOCAL_ZONE).date()
    return "early" if done < limit else "on_time" if done == limit else "late"


def last_hop(session: Session, dossier: Dossier) -> HandOver | None:
    return session.scalars(
        select(HandOver)
        .where(HandOver.dossier_id == dossier.id)
        .order_by(HandOver.seq.desc())
        .limit(1)
    ).first()


def _hand_over(
    session: Session,
    settings: Settings,
    dossier: Dossier,
    procedure: Procedure,
    *,
    to_unit: str,
    from_unit: str,
    role: str,
    at: datetime,
) -> HandOver:
    previous = last_hop(session, dossier)
    if previous is not None and previous.outcome is None:
        previous.outcome = _outcome(at, previous.step_due_at)
    share = next((int(s["share"]) for s in procedure.steps if s["role"] == role), 0)
    step_due = None
    if dossier.received_at is not None and dossier.due_at is not None and share:
        cal = calendar(settings)
        total = cal.working_time_between(dossier.received_at, dossier.due_at)
        step_due = cal.add_working_hours(cal.next_working_start(at), total * share / 100)
    row = HandOver(
        dossier_id=dossier.id,
        seq=(previous.seq + 1) if previous else 1,
        from_unit=from_unit,
        to_unit=to_unit,
        role=role,
        at=at,
        step_due_at=step_due,
    )
    session.add(row)
    return row
