"""The applicant's satisfaction rating after the result, on criteria the provincial portals ask
(reference §8: overall, staff attitude, on time, convenience, number of contacts), each "không hài
lòng" (1), "hài lòng" (2) or "rất hài lòng" (3). A dossier rated unsatisfied on any criterion
counts against the Decision 766 satisfaction rate (`kpis.report` → rates.satisfied)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Conflict, Forbidden, Invalid
from lienthong.onestop import kpis
from lienthong.onestop.models import Dossier, DossierRating
from lienthong.onestop.service import S, event

CRITERIA: dict[str, tuple[str, str]] = {
    "overall": ("Mức độ hài lòng chung", "Overall"),
    "attitude": ("Thái độ, tác phong của cán bộ", "The staff's attitude"),
    "on_time": ("Giải quyết đúng hẹn", "Done by the appointment"),
    "convenience": ("Thuận tiện khi nộp hồ sơ và nhận kết quả", "Ease of filing and collecting"),
    "contacts": ("Số lần phải liên hệ hợp lý", "A reasonable number of contacts"),
}
SCALE: dict[int, tuple[str, str]] = {
    3: ("Rất hài lòng", "Very satisfied"),
    2: ("Hài lòng", "Satisfied"),
    1: ("Không hài lòng", "Not satisfied"),
}
RATEABLE = frozenset({S.DONE, S.RETURNED})


def rating_of(session: Session, dossier: Dossier) -> DossierRating | None:
    return session.scalars(
        select(DossierRating).where(DossierRating.dossier_id == dossier.id)
    ).first()


def rate(
    session: Session,
    *,
    dossier: Dossier,
    citizen_id: int | None,
    scores: Mapping[str, int],
    comment: str | None = None,
) -> DossierRating:
    if citizen_id is None or dossier.citizen_id != citizen_id:
        raise Forbidden(
            "Chỉ người nộp được đánh giá hồ sơ của mình.",
            "Only the applicant may rate a dossier.",
            code="not_your_dossier",
        )
    if dossier.status not in RATEABLE:
        raise Conflict(
            "Hồ sơ chưa có kết quả nên chưa đánh giá được.",
            "The dossier has no result yet to rate.",
            code="not_rateable_yet",
        )
    if rating_of(session, dossier) is not None:
        raise Conflict(
            "Hồ sơ này đã được đánh giá.", "This dossier is already rated.", code="already_rated"
        )
    missing = [c for c in CRITERIA if scores.get(c) not in SCALE]
    if missing:
        raise Invalid(
            "Chọn mức đánh giá cho mọi tiêu chí.",
            "Choose a rating for every criterion.",
            code="incomplete_rating",
            details={"missing": missing},
        )
    now = utcnow()
    satisfied = all(scores[c] >= 2 for c in CRITERIA)
    rating = DossierRating(
        dossier_id=dossier.id,
        at=now,
        scores={c: int(scores[c]) for c in CRITERIA},
        satisfied=satisfied,
        comment=(comment or "").strip()[:2000] or None,
    )
    session.add(rating)
    kpis.bump(session, agency_id=dossier.agency_id, at=now, measure="rated")
    if not satisfied:
        kpis.bump(session, agency_id=dossier.agency_id, at=now, measure="rated_unsatisfied")
    event(session, dossier, "rated", unit="Công dân", actor_id=citizen_id, at=now)
    session.flush()
    return rating
