"""The supplement round trip (Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ): an officer asks for
papers, saying what, why and by when; the applicant sees it and sends them online; the clock
resumes at that moment (the paused time is not counted); the officer is told until they look.

The paused time is the calendar time between the request and the papers' arrival, skipped by
the working calendar (`due_for(..., paused=...)`), as the one-stop software does it (reference
§5 "pause for supplement")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.kernel.blobs import BlobStore
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid
from lienthong.onestop.models import Dossier, DossierPaper, Pause, Procedure
from lienthong.onestop.service import S, Upload, calendar, due_for, event, store_upload

DEFAULT_DAYS = 10
MAX_DAYS = 60


@dataclass(frozen=True)
class Request:
    """What the applicant is asked for, shown on their dossier page."""

    reason: str
    papers: list[str]
    requested_at: datetime
    respond_by: datetime | None
    answered_at: datetime | None
    reviewed_at: datetime | None

    @property
    def overdue(self) -> bool:
        return (
            self.answered_at is None and self.respond_by is not None and utcnow() > self.respond_by
        )


def open_request(session: Session, dossier: Dossier) -> Pause | None:
    return session.scalars(
        select(Pause)
        .where(Pause.dossier_id == dossier.id, Pause.ended_at.is_(None))
        .order_by(Pause.id.desc())
    ).first()


def latest_request(session: Session, dossier: Dossier) -> Request | None:
    """The last supplement request of the dossier (answered or not), if any."""
    pause = session.scalars(
        select(Pause)
        .where(Pause.dossier_id == dossier.id, Pause.papers.is_not(None))
        .order_by(Pause.id.desc())
    ).first()
    if pause is None:
        return None
    return Request(
        reason=pause.reason,
        papers=list(pause.papers or []),
        requested_at=pause.started_at,
        respond_by=pause.respond_by,
        answered_at=pause.answered_at,
        reviewed_at=pause.reviewed_at,
    )


def unreviewed(session: Session, dossier_ids: Sequence[int]) -> set[int]:
    """Dossiers whose applicant sent papers no officer has looked at yet (for the queue)."""
    if not dossier_ids:
        return set()
    return set(
        session.scalars(
            select(Pause.dossier_id).where(
                Pause.dossier_id.in_(list(dossier_ids)),
                Pause.answered_at.is_not(None),
                Pause.reviewed_at.is_(None),
            )
        )
    )


def ask(
    session: Session,
    dossier: Dossier,
    procedure: Procedure,
    *,
    reason: str,
    papers: Sequence[str],
    days: int | None,
    at: datetime,
) -> Pause:
    """Opens the pause of a supplement request (the status change is the caller's)."""
    wanted = [p.strip() for p in papers if p.strip()]
    if not wanted:
        raise Invalid(
            "Chọn hoặc ghi rõ giấy tờ cần bổ sung.",
            "Choose or name the papers to be supplied.",
            code="missing_supplement_papers",
        )
    days = DEFAULT_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(
            f"Thời hạn bổ sung từ 1 đến {MAX_DAYS} ngày.",
            f"The time to supply papers is 1 to {MAX_DAYS} days.",
            code="invalid_supplement_days",
            details={"days": days},
        )
    pause = Pause(
        dossier_id=dossier.id,
        started_at=at,
        reason=reason.strip(),
        papers=wanted,
        respond_by=at + timedelta(days=days),
    )
    session.add(pause)
    return pause


def resume(session: Session, settings: Settings, dossier: Dossier, at: datetime) -> Pause | None:
    """Ends the open pause at `at` and moves the due date by every pause so far."""
    pause = open_request(session, dossier)
    if pause is not None:
        pause.ended_at = at
    procedure = session.get_one(Procedure, dossier.procedure_id)
    pauses = [
        (p.started_at, p.ended_at)
        for p in session.scalars(select(Pause).where(Pause.dossier_id == dossier.id))
        if p.ended_at is not None
    ]
    assert dossier.received_at is not None
    dossier.due_at = due_for(calendar(settings), procedure, dossier.received_at, pauses)
    dossier.status = S.PROCESSING
    return pause


def answer(
    session: Session,
    *,
    settings: Settings,
    blobs: BlobStore,
    dossier: Dossier,
    citizen_id: int | None,
    uploads: Sequence[Upload],
    note: str | None = None,
) -> Dossier:
    """The applicant sends the requested papers online: stored, the clock resumes, the officer
    sees "Công dân đã gửi bổ sung" on the queue and the dossier until they review it."""
    if citizen_id is None or dossier.citizen_id != citizen_id:
        raise Forbidden(
            "Chỉ người nộp được bổ sung hồ sơ của mình.",
            "Only the applicant may supply papers for a dossier.",
            code="not_your_dossier",
        )
    pause = open_request(session, dossier)
    if dossier.status != S.SUPPLEMENT or pause is None or pause.papers is None:
        raise Conflict(
            "Hồ sơ không có yêu cầu bổ sung đang chờ.",
            "The dossier has no supplement request waiting.",
            code="no_supplement_request",
        )
    given = [u for u in uploads if u.filename]
    if not given:
        raise Invalid(
            "Đính kèm giấy tờ được yêu cầu bổ sung.",
            "Attach the papers asked for.",
            code="missing_papers",
            details={"missing": list(pause.papers)},
        )
    stored = [
        (u, *store_upload(blobs, u, max_bytes=settings.onestop_max_file_bytes)) for u in given
    ]
    now = utcnow()
    for upload, sha, content_type, size in stored:
        session.add(
            DossierPaper(
                dossier_id=dossier.id,
                name=upload.paper,
                kind="supplement",
                filename=upload.filename,
                content_type=content_type,
                blob_sha256=sha,
                size=size,
                digitised=True,
            )
        )
    pause.answered_at = now
    resume(session, settings, dossier, now)
    event(
        session,
        dossier,
        "supplement_submitted",
        unit="Công dân",
        actor_id=citizen_id,
        note=(note or "").strip()[:2000] or None,
        at=now,
    )
    session.flush()
    return dossier


def review(session: Session, dossier: Dossier) -> None:
    """An officer has looked at the papers sent: the notice goes away."""
    for pause in session.scalars(
        select(Pause).where(
            Pause.dossier_id == dossier.id,
            Pause.answered_at.is_not(None),
            Pause.reviewed_at.is_(None),
        )
    ):
        pause.reviewed_at = utcnow()
    session.flush()
