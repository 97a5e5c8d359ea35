"""Decision 766 figures per agency and period, kept as dossiers move.

Each event bumps a per-agency, per-day counter in the same transaction as the change, so a
figure for any period sums at most a few hundred rows. Only the in-progress and overdue counts,
which change with the clock rather than with events, are counted from open dossiers through
the (agency, status, due) index.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lienthong.kernel.clock import LOCAL_ZONE, utcnow
from lienthong.onestop.models import IN_PROGRESS, PAUSED, Dossier, KpiCount

MEASURES = (
    "received",
    "received_counter",
    "received_online",
    "received_post",
    "received_toan_trinh",
    "received_mot_phan",
    "refused",
    "withdrawn",
    "finished",
    "finished_early",
    "finished_on_time",
    "finished_late",
    "fee_bearing",
    "paid",
    "paid_online",
    "digitised",
    "rated",
    "rated_unsatisfied",
)


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_ZONE).date()


def bump(session: Session, *, agency_id: int, at: datetime, measure: str, by: int = 1) -> None:
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure}")
    values = {"agency_id": agency_id, "day": local_day(at), "measure": measure, "value": by}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(KpiCount).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["agency_id", "day", "measure"], set_={"value": KpiCount.value + by}
    )
    session.execute(stmt)


def report(
    session: Session,
    *,
    agency_ids: list[int] | None,
    date_from: date,
    date_to: date,
    now: datetime | None = None,
) -> dict[str, Any]:
    stmt = (
        select(KpiCount.measure, func.sum(KpiCount.value))
        .where(KpiCount.day >= date_from, KpiCount.day <= date_to)
        .group_by(KpiCount.measure)
    )
    if agency_ids is not None:
        stmt = stmt.where(KpiCount.agency_id.in_(agency_ids))
    counts = dict.fromkeys(MEASURES, 0)
    counts.update({m: int(v or 0) for m, v in session.execute(stmt)})
    now = now or utcnow()
    open_stmt = (
        select(Dossier.status, func.count(), func.count().filter(Dossier.due_at < now))
        .where(Dossier.status.in_(sorted(IN_PROGRESS | PAUSED)))
        .group_by(Dossier.status)
    )
    if agency_ids is not None:
        open_stmt = open_stmt.where(Dossier.agency_id.in_(agency_ids))
    in_progress = overdue = paused = 0
    for status, total, late in session.execute(open_stmt):
        if status in IN_PROGRESS:
            in_progress += int(total)
            overdue += int(late)
        else:
            paused += int(total)

    def share(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 2) if whole else None

    finished = counts["finished"]
    return {
        "period": {"from": date_from.isoformat(), "to": date_to.isoformat()},
        "counts": counts,
        "in_progress": in_progress,
        "overdue": overdue,
        "paused": paused,
        "rates": {
            "on_time": share(counts["finished_early"] + counts["finished_on_time"], finished),
            "late": share(counts["finished_late"], finished),
            "online": share(counts["received_online"], counts["received"]),
            "online_toan_trinh": share(counts["received_toan_trinh"], counts["received_online"]),
            "online_payment": share(counts["paid_online"], counts["fee_bearing"]),
            "digitised": share(counts["digitised"], counts["received"]),
            # Decision 766: (dossiers finished − those rated unsatisfied) / dossiers finished
            "satisfied": share(finished - counts["rated_unsatisfied"], finished),
        },
    }
