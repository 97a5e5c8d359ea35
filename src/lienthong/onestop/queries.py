"""What people see of dossiers: the public view, a citizen's list, an officer's queue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.kernel.text import escape_like
from lienthong.onestop.models import (
    OPEN,
    STATUS_LABELS,
    Dossier,
    DossierEvent,
    DossierPaper,
    HandOver,
    Procedure,
)
from lienthong.onestop.processing import EVENT_LABELS
from lienthong.onestop.service import S
from lienthong.registry.models import Agency


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
                "label": EVENT_LABELS.get(e.action, (e.action, e.action))[i],
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
    q: str = "",
    procedure_id: int | None = None,
    due: str = "",
    now: datetime | None = None,
) -> tuple[list[Dossier], int]:
    """An officer's open dossiers, soonest due first; `q` matches the code or the applicant's
    name, `due` is "late", "today" or "week" (due within seven days)."""
    agencies = [
        a.id for a in session.scalars(select(Agency).where(Agency.code.in_(list(agency_codes))))
    ]
    base = select(Dossier).where(
        Dossier.agency_id.in_(agencies) | Dossier.handling_agency_id.in_(agencies)
    )
    base = base.where(Dossier.status.in_(list(statuses) if statuses else sorted(OPEN | {S.DONE})))
    if q.strip():
        like = f"%{escape_like(q.strip())}%"
        base = base.where(
            Dossier.code.ilike(like, escape="\\") | Dossier.applicant_name.ilike(like, escape="\\")
        )
    if procedure_id:
        base = base.where(Dossier.procedure_id == procedure_id)
    now = now or utcnow()
    if due == "late":
        base = base.where(Dossier.due_at < now)
    elif due in ("today", "week"):
        local = now.astimezone(LOCAL_ZONE)
        days = 1 if due == "today" else 7
        end = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=days)
        base = base.where(Dossier.due_at < end.astimezone(UTC))
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


def procedure_names(session: Session, dossiers: Sequence[Dossier]) -> dict[int, str]:
    ids = {d.procedure_id for d in dossiers}
    return {p.id: p.name for p in session.scalars(select(Procedure).where(Procedure.id.in_(ids)))}
