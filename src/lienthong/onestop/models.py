"""Procedures, dossiers with their papers, timeline, hand-overs and pauses, payments, and the
KPI counters kept as dossiers move."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lienthong.db import Base


class DossierStatus(enum.IntEnum):
    SUBMITTED = 1  # mới đăng ký (online, awaiting reception)
    RECEIVED = 2  # được tiếp nhận
    REFUSED = 3  # không được tiếp nhận
    PROCESSING = 4  # đang xử lý
    SUPPLEMENT = 5  # yêu cầu bổ sung giấy tờ
    FEE_REQUESTED = 6  # yêu cầu thực hiện nghĩa vụ tài chính
    WITHDRAWN = 7  # công dân yêu cầu rút hồ sơ
    STOPPED = 8  # dừng xử lý
    DONE = 9  # đã xử lý xong
    RETURNED = 10  # đã trả kết quả


STATUS_LABELS: dict[int, tuple[str, str]] = {
    1: ("Mới đăng ký", "Submitted"),
    2: ("Được tiếp nhận", "Received"),
    3: ("Không được tiếp nhận", "Refused"),
    4: ("Đang xử lý", "In process"),
    5: ("Yêu cầu bổ sung giấy tờ", "Supplement requested"),
    6: ("Yêu cầu thực hiện nghĩa vụ tài chính", "Fee requested"),
    7: ("Công dân yêu cầu rút hồ sơ", "Withdrawn"),
    8: ("Dừng xử lý", "Stopped"),
    9: ("Đã xử lý xong", "Result ready"),
    10: ("Đã trả kết quả", "Result returned"),
}
# Reporting groups of Decision 766 (reference §3.1).
IN_PROGRESS = frozenset({2, 4})
FINISHED = frozenset({7, 9, 10})
PAUSED = frozenset({5, 6, 8})
OPEN = frozenset({1, 2, 4, 5, 6})


class Procedure(Base):
    __tablename__ = "procedure"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # provincial copy, 1.001612.000.00.00.H49
    national_code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(Text)
    field: Mapped[str] = mapped_column(String(60), index=True)
    level: Mapped[str] = mapped_column(String(16))  # province, commune
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))  # None: every commune
    online_level: Mapped[str] = mapped_column(String(16))  # toan_trinh, mot_phan
    duration: Mapped[float]
    duration_unit: Mapped[str] = mapped_column(
        String(16)
    )  # working_days, working_hours, calendar_days
    fee_vnd: Mapped[int] = mapped_column(default=0)
    fee_note: Mapped[str | None] = mapped_column(Text)
    papers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"name", "required"}]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"role", "share"}]
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    search_text: Mapped[str] = mapped_column(String(2000))


class Dossier(Base):
    __tablename__ = "dossier"
    __table_args__ = (
        Index("ix_dossier_queue", "agency_id", "status", "due_at"),
        Index("ix_dossier_citizen", "citizen_id", "created_at"),
        Index("ix_dossier_open", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedure.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    channel: Mapped[str] = mapped_column(String(8))  # counter, online, post
    applicant_kind: Mapped[str] = mapped_column(String(12))  # person, business
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_id_number: Mapped[str | None] = mapped_column(String(40))
    applicant_phone: Mapped[str | None] = mapped_column(String(30))
    applicant_email: Mapped[str | None] = mapped_column(String(200))
    applicant_address: Mapped[str | None] = mapped_column(String(300))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[int]
    created_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(8))  # early, on_time, late
    step: Mapped[int] = mapped_column(default=0)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Another agency handling a step of a joint (liên thông) procedure; it sees the dossier too.
    handling_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    fee_vnd: Mapped[int] = mapped_column(default=0)
    payment_state: Mapped[str] = mapped_column(
        String(8), default="none"
    )  # none, pending, paid, failed
    paid_online: Mapped[bool] = mapped_column(default=False)
    digitised: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(Text)  # refusal, supplement or stop reason


class DossierPaper(Base):
    __tablename__ = "dossier_paper"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(12), default="paper")  # paper, result
    filename: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(100))
    blob_sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(default=0)
    digitised: Mapped[bool] = mapped_column(default=False)


class DossierEvent(Base):
    """The public timeline: what happened when (no personal data here)."""

    __tablename__ = "dossier_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    status: Mapped[int]
    unit: Mapped[str | None] = mapped_column(String(255))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)


class HandOver(Base):
    """One row of the process-control slip: a dossier passed from one unit to another."""

    __tablename__ = "dossier_handover"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    from_unit: Mapped[str] = mapped_column(String(255))
    to_unit: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    step_due_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(8))  # set when the step is handed on


class Pause(Base):
    __tablename__ = "dossier_pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text)
    # A supplement request: the papers asked for, the date they are due by, when the applicant
    # sent them (online) and when an officer looked at what was sent.
    papers: Mapped[list[str] | None] = mapped_column(JSON)
    respond_by: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]


class DossierCounter(Base):
    """The daily sequence of dossier codes per agency."""

    __tablename__ = "dossier_counter"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int]


class Payment(Base):
    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    gateway: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int]
    state: Mapped[str] = mapped_column(String(8))  # pending, paid, failed
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    receipt_number: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class KpiCount(Base):
    """Counts per agency, day and measure, kept as dossiers move: a KPI for any period is a sum
    over at most a few hundred rows, never a scan of the dossiers."""

    __tablename__ = "kpi_count"
    __table_args__ = (UniqueConstraint("agency_id", "day", "measure"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    day: Mapped[date] = mapped_column(Date)
    measure: Mapped[str] = mapped_column(String(32))
    value: Mapped[int]


class DossierRating(Base):
    """The applicant's satisfaction rating once the result is out (one per dossier): a score per
    criterion, 1 không hài lòng, 2 hài lòng, 3 rất hài lòng."""

    __tablename__ = "dossier_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), unique=True
    )
    at: Mapped[datetime]
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    satisfied: Mapped[bool]
    comment: Mapped[str | None] = mapped_column(Text)


BLOB_COLUMNS = (DossierPaper.blob_sha256,)  # uploaded papers and results
