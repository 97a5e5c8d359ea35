"""Dossiers: filing, codes, the status flow with its hand-overs and pauses, deadlines in
working days, and what citizens and officers may see."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel.blobs import BlobStore
from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from lienthong.onestop import kpis
from lienthong.onestop.calendar import WorkingCalendar
from lienthong.onestop.models import (
    OPEN,
    STATUS_LABELS,
    Dossier,
    DossierCounter,
    DossierEvent,
    DossierPaper,
    DossierStatus,
    HandOver,
    Pause,
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
    previous = session.scalars(
        select(HandOver)
        .where(HandOver.dossier_id == dossier.id)
        .order_by(HandOver.seq.desc())
        .limit(1)
    ).first()
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


@dataclass(frozen=True)
class Officer:
    user_id: int
    name: str
    agency_codes: tuple[str, ...]


def _check_officer(session: Session, dossier: Dossier, officer: Officer) -> Agency:
    agency = session.get_one(Agency, dossier.agency_id)
    handling = (
        session.get(Agency, dossier.handling_agency_id) if dossier.handling_agency_id else None
    )
    if agency.code not in officer.agency_codes and (
        handling is None or handling.code not in officer.agency_codes
    ):
        raise Forbidden(
            f"Hồ sơ {dossier.code} thuộc {agency.name}; cán bộ của cơ quan khác không xử lý được.",
            f"Dossier {dossier.code} belongs to {agency.name}; officers of other agencies cannot act on it.",
            code="not_your_dossier",
            details={"agency": agency.code},
        )
    return agency


ACTIONS: dict[str, tuple[frozenset[int], int]] = {
    "accept": (frozenset({S.SUBMITTED}), S.RECEIVED),
    "refuse": (frozenset({S.SUBMITTED}), S.REFUSED),
    "assign": (frozenset({S.RECEIVED, S.PROCESSING}), S.PROCESSING),
    "hand_over": (frozenset({S.RECEIVED, S.PROCESSING}), S.PROCESSING),
    "request_supplement": (frozenset({S.RECEIVED, S.PROCESSING}), S.SUPPLEMENT),
    "supplement_received": (frozenset({S.SUPPLEMENT}), S.PROCESSING),
    "request_fee": (frozenset({S.RECEIVED, S.PROCESSING}), S.FEE_REQUESTED),
    "approve": (frozenset({S.PROCESSING}), S.DONE),
    "return_result": (frozenset({S.DONE}), S.RETURNED),
    "stop": (frozenset({S.RECEIVED, S.PROCESSING, S.SUPPLEMENT}), S.STOPPED),
    "withdraw": (frozenset(OPEN), S.WITHDRAWN),
}
ACTION_LABELS = {
    "accept": ("Tiếp nhận", "Accept"),
    "refuse": ("Từ chối tiếp nhận", "Refuse"),
    "assign": ("Phân công xử lý", "Assign"),
    "hand_over": ("Chuyển bước xử lý", "Hand over"),
    "request_supplement": ("Yêu cầu bổ sung", "Request papers"),
    "supplement_received": ("Đã nhận bổ sung", "Papers received"),
    "request_fee": ("Yêu cầu nộp phí", "Request fee"),
    "approve": ("Phê duyệt, có kết quả", "Approve"),
    "return_result": ("Trả kết quả", "Return the result"),
    "stop": ("Dừng xử lý", "Stop"),
    "withdraw": ("Rút hồ sơ", "Withdraw"),
}
NEEDS_REASON = {"refuse", "request_supplement", "stop"}


def _assignee(session: Session, dossier: Dossier, user_id: int | None) -> Any:
    from lienthong.accounts.models import Membership, User

    agencies = [a for a in (dossier.agency_id, dossier.handling_agency_id) if a]
    user = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == (user_id or 0), Membership.agency_id.in_(agencies))
    ).first()
    if user is None:
        raise Invalid(
            "Chọn cán bộ của cơ quan đang giải quyết hồ sơ.",
            "Choose an officer of the agency handling the dossier.",
            code="unknown_assignee",
        )
    return user


def officers_of(session: Session, dossier: Dossier) -> list[Any]:
    from lienthong.accounts.models import Membership, User

    agencies = [a for a in (dossier.agency_id, dossier.handling_agency_id) if a]
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.agency_id.in_(agencies), User.active.is_(True))
            .order_by(User.full_name)
            .distinct()
        )
    )


def allowed_actions(dossier: Dossier) -> list[str]:
    return [
        a for a, (sources, _) in ACTIONS.items() if dossier.status in sources and a != "withdraw"
    ]


def act(
    session: Session,
    *,
    settings: Settings,
    blobs: BlobStore,
    code: str,
    action: str,
    officer: Officer | None,
    citizen_id: int | None = None,
    reason: str | None = None,
    to_unit: str | None = None,
    to_agency: str | None = None,
    assignee_id: int | None = None,
    results: Sequence[Upload] = (),
) -> Dossier:
    dossier = get_dossier(session, code=code)
    if action not in ACTIONS:
        raise Invalid(
            f"Không có thao tác '{action}'.", f"Unknown action '{action}'.", code="unknown_action"
        )
    if action == "withdraw":
        if citizen_id is None or dossier.citizen_id != citizen_id:
            raise Forbidden(
                "Chỉ người nộp được rút hồ sơ của mình.",
                "Only the applicant may withdraw a dossier.",
                code="not_your_dossier",
            )
    else:
        if officer is None:
            raise Forbidden(
                "Cần tài khoản cán bộ.", "An officer account is needed.", code="forbidden"
            )
        _check_officer(session, dossier, officer)
    sources, target = ACTIONS[action]
    if dossier.status not in sources:
        raise Conflict(
            f"Không thể '{ACTION_LABELS[action][0]}' khi hồ sơ đang ở trạng thái {STATUS_LABELS[dossier.status][0]}.",
            f"Cannot '{ACTION_LABELS[action][1]}' a dossier that is {STATUS_LABELS[dossier.status][1]}.",
            code="transition_not_allowed",
            details={"status": dossier.status, "allowed_from": sorted(int(s) for s in sources)},
        )
    if action in NEEDS_REASON and not (reason or "").strip():
        raise Invalid("Nhập lý do.", "Give the reason.", code="missing_reason")
    procedure = session.get_one(Procedure, dossier.procedure_id)
    agency = session.get_one(Agency, dossier.agency_id)
    now = utcnow()
    actor = officer.user_id if officer else None
    if action == "accept":
        _receive(session, settings, dossier, procedure, agency, officer_id=actor, at=now)
    elif action == "refuse":
        dossier.status = target
        dossier.reason = reason
        kpis.bump(session, agency_id=agency.id, at=now, measure="refused")
    elif action == "assign":
        assignee = _assignee(session, dossier, assignee_id)
        dossier.assignee_id = assignee.id
        dossier.status = target
        to_unit = assignee.full_name
    elif action == "hand_over":
        if to_agency:
            other = registry.get_agency(session, code=to_agency)
            if other.status != AgencyStatus.ACTIVE:
                raise Invalid(
                    f"{other.name} không còn hoạt động.",
                    f"{other.name} is no longer active.",
                    code="agency_inactive",
                )
            dossier.handling_agency_id = None if other.id == dossier.agency_id else other.id
            to_unit = other.name
        current = dossier.step + 1
        role = (
            str(procedure.steps[min(current, len(procedure.steps) - 1)]["role"])
            if procedure.steps
            else "processing"
        )
        last = session.scalars(
            select(HandOver)
            .where(HandOver.dossier_id == dossier.id)
            .order_by(HandOver.seq.desc())
            .limit(1)
        ).first()
        _hand_over(
            session,
            settings,
            dossier,
            procedure,
            to_unit=(to_unit or ROLE_UNITS.get(role, role)).strip(),
            from_unit=last.to_unit if last else RECEPTION,
            role=role,
            at=now,
        )
        dossier.step = current
        dossier.status = target
    elif action in ("request_supplement", "stop"):
        session.add(Pause(dossier_id=dossier.id, started_at=now, reason=reason or ""))
        dossier.status = target
        dossier.reason = reason
    elif action == "supplement_received":
        pause = session.scalars(
            select(Pause).where(Pause.dossier_id == dossier.id, Pause.ended_at.is_(None))
        ).first()
        if pause is not None:
            pause.ended_at = now
        pauses = [
            (p.started_at, p.ended_at)
            for p in session.scalars(select(Pause).where(Pause.dossier_id == dossier.id))
            if p.ended_at is not None
        ]
        assert dossier.received_at is not None
        dossier.due_at = due_for(calendar(settings), procedure, dossier.received_at, pauses)
        dossier.status = target
    elif action == "request_fee":
        dossier.status = target
    elif action == "approve":
        dossier.status = target
        dossier.finished_at = now
        dossier.outcome = _outcome(now, dossier.due_at)
        for measure in ("finished", f"finished_{dossier.outcome}"):
            kpis.bump(session, agency_id=agency.id, at=now, measure=measure)
    elif action == "return_result":
        if dossier.fee_vnd and dossier.payment_state != "paid":
            raise Conflict(
                "Hồ sơ chưa nộp phí, lệ phí.", "The fee has not been paid.", code="fee_unpaid"
            )
        for upload in results:
            sha, content_type, size = store_upload(
                blobs, upload, max_bytes=settings.onestop_max_file_bytes
            )
            session.add(
                DossierPaper(
                    dossier_id=dossier.id,
                    name=upload.paper,
                    kind="result",
                    filename=upload.filename,
                    content_type=content_type,
                    blob_sha256=sha,
                    size=size,
                    digitised=True,
                )
            )
        last = session.scalars(
            select(HandOver)
            .where(HandOver.dossier_id == dossier.id)
            .order_by(HandOver.seq.desc())
            .limit(1)
        ).first()
        _hand_over(
            session,
            settings,
            dossier,
            procedure,
            to_unit="Công dân",
            from_unit=last.to_unit if last else RECEPTION,
            role="return",
            at=now,
        )
        dossier.status = target
        dossier.returned_at = now
    elif action == "withdraw":
        dossier.status = target
        kpis.bump(session, agency_id=agency.id, at=now, measure="withdrawn")
    if action != "accept":  # reception wrote its own "received" event
        event(session, dossier, action, unit=to_unit, actor_id=actor or citizen_id, note=reason)
    session.flush()
    return dossier


# ---- what people see ---------------------------------------------------------------------


def public_view(session: Session, dossier: Dossier, lang: str = "vi") -> dict[str, Any]:
    """For anyone holding the code: status and timeline, no personal data."""
    procedure = session.get_one(Procedure, dossier.procedure_id)
    agency = session.get_one(Agency, dossier.agency_id)
    i = 1 if lang == "en" else 0
    events = session.scalars(
        select(DossierEvent)
        .where(DossierEvent.dossier_id == dossier.id)
        .order_by(DossierEvent.at, DossierEvent.id)
    )
    return {
        "code": dossier.code,
        "procedure": procedure.name,
        "procedure_code": procedure.code,
        "agency": agency.name,
        "status": int(dossier.status),
        "status_label": STATUS_LABELS[dossier.status][i],
        "received_at": dossier.received_at,
        "due_at": dossier.due_at,
        "finished_at": dossier.finished_at,
        "returned_at": dossier.returned_at,
        "outcome": dossier.outcome,
        "timeline": [
            {
                "at": e.at,
                "action": e.action,
                "label": (
                    ACTION_LABELS.get(e.action)
                    or (
                        {
                            "submitted": ("Nộp hồ sơ", "Submitted"),
                            "received": ("Tiếp nhận", "Received"),
                        }.get(e.action, (e.action, e.action))
                    )
                )[i],
                "status": e.status,
            }
            for e in events
        ],
    }


def citizen_dossiers(
    session: Session, *, citizen_id: int, page: int, page_size: int
) -> tuple[list[Dossier], int]:
    base = select(Dossier).where(Dossier.citizen_id == citizen_id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(
        base.order_by(Dossier.created_at.desc()).offset((page - 1) * page_size).limit(page_size)
    )
    return list(rows), int(total)


def queue(
    session: Session,
    *,
    agency_codes: Sequence[str],
    statuses: Sequence[int] | None,
    page: int,
    page_size: int,
) -> tuple[list[Dossier], int]:
    agencies = [
        a.id for a in session.scalars(select(Agency).where(Agency.code.in_(list(agency_codes))))
    ]
    base = select(Dossier).where(
        Dossier.agency_id.in_(agencies) | Dossier.handling_agency_id.in_(agencies)
    )
    base = base.where(Dossier.status.in_(list(statuses) if statuses else sorted(OPEN | {S.DONE})))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(
        base.order_by(Dossier.due_at.is_(None), Dossier.due_at, Dossier.created_at)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), int(total)


def urgency(dossier: Dossier, now: datetime | None = None) -> str | None:
    """late, due_today or None, for highlighting queues."""
    if dossier.due_at is None or dossier.status not in OPEN:
        return None
    now = now or utcnow()
    if dossier.due_at < now:
        return "late"
    if dossier.due_at.astimezone(LOCAL_ZONE).date() == now.astimezone(LOCAL_ZONE).date():
        return "due_today"
    return None


def papers(session: Session, dossier: Dossier) -> list[DossierPaper]:
    return list(
        session.scalars(
            select(DossierPaper)
            .where(DossierPaper.dossier_id == dossier.id)
            .order_by(DossierPaper.kind, DossierPaper.id)
        )
    )


def hand_overs(session: Session, dossier: Dossier) -> list[HandOver]:
    return list(
        session.scalars(
            select(HandOver).where(HandOver.dossier_id == dossier.id).order_by(HandOver.seq)
        )
    )


def officer_for(principal_grants: Sequence[Any], user_id: int, name: str) -> Officer:
    roles = {"officer", "clerk", "leader", "admin"}
    return Officer(
        user_id, name, tuple(sorted({g.agency_code for g in principal_grants if g.role in roles}))
    )
